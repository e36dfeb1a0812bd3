// One candidate, in full: what was asked, what came back, and which rule said what.

import { wordDiff } from "./diff.js";
import { el, fmt } from "./dom.js";

function diffNode(parent, child) {
  return el(
    "div",
    { class: "evz-diff" },
    wordDiff(parent, child).map((part) => el("span", { class: `evz-${part.op}`, text: part.text })),
  );
}

function messagesNode(call) {
  if (!call) return null;
  return el(
    "div",
    { class: "evz-messages" },
    (call.messages || []).map((m) =>
      el(
        "div",
        { class: "evz-message" },
        el("div", { class: "evz-role", text: m.role }),
        el("pre", { class: "evz-pre", text: m.content }),
      ),
    ),
  );
}

function callNode(name, call, open = false) {
  if (!call) return null;
  const meta = [
    `model ${call.model}`,
    `${fmt(call.prompt_tokens)}+${fmt(call.completion_tokens)} tokens`,
    `${fmt(call.latency_s, 2)} s`,
    `${call.attempts} attempt(s)`,
    call.cached ? "cached" : null,
    call.finish_reason ? `finish: ${call.finish_reason}` : null,
    call.error_class ? `error: ${call.error_class}` : null,
  ]
    .filter(Boolean)
    .join(" · ");
  return el(
    "details",
    { class: "evz-call", open: open ? true : undefined, dataset: { call: name } },
    el("summary", {}, el("b", { text: name }), el("span", { class: "evz-meta", text: meta })),
    el("div", { class: "evz-label", text: "prompt sent" }),
    messagesNode(call),
    el("div", { class: "evz-label", text: "raw response" }),
    el("pre", {
      class: "evz-pre evz-raw",
      text: call.content === null || call.content === undefined ? "(none)" : call.content,
    }),
    call.error ? el("pre", { class: "evz-pre evz-error", text: call.error }) : null,
  );
}

// What a verdict read to decide (words matched, judge text, finish reason), as plain text:
// it is model output, so it goes in through textContent like everything else.
function evidenceText(value) {
  if (value === null || value === undefined) return "–";
  if (typeof value === "string") return value.length > 300 ? `${value.slice(0, 300)}…` : value;
  return JSON.stringify(value);
}

function evidenceNode(detail) {
  const entries = Object.entries(detail || {});
  if (!entries.length) return null;
  return el(
    "dl",
    { class: "evz-evidence" },
    entries.flatMap(([key, value]) => [
      el("dt", { text: key }),
      el("dd", { text: evidenceText(value) }),
    ]),
  );
}

/** @param {import("./protocol.js").CandidateDetail} c */
export function renderCard(c, actions) {
  if (!c?.id)
    return el("div", {
      class: "evz-card evz-empty",
      text: "Select a candidate to see its prompts, responses and verdicts.",
    });
  const rejection = (c.verdicts || []).find((v) => !v.passed);
  const banner =
    c.status === "rejected"
      ? el(
          "div",
          { class: "evz-banner evz-banner-rejected", dataset: { rule: c.rejected_by } },
          el("b", { text: `Rejected by ${c.rejected_by}` }),
          el("span", { text: rejection ? ` — ${rejection.reason}` : "" }),
        )
      : c.status === "failed"
        ? el(
            "div",
            { class: "evz-banner evz-banner-failed" },
            el("b", { text: `Failed: ${c.error_class}` }),
            el("span", { text: ` — ${c.error || ""}` }),
          )
        : el("div", {
            class: "evz-banner evz-banner-accepted",
            text: "Accepted: replaces its parent in the pool and joins the dataset.",
          });
  return el(
    "div",
    { class: "evz-card", dataset: { id: c.id } },
    el(
      "div",
      { class: "evz-card-head" },
      el("span", { class: "evz-badge evz-op", text: c.operator }),
      el("span", { class: `evz-badge evz-status-${c.status}`, text: c.status }),
      el("span", {
        class: "evz-meta",
        text: `${c.id} · parent ${c.parent_id} · seed ${c.seed_id}`,
      }),
      c.difficulty !== null && c.difficulty !== undefined
        ? el("span", { class: "evz-badge evz-diff-score", text: `difficulty ${c.difficulty}` })
        : null,
    ),
    banner,
    el("div", {
      class: "evz-label",
      text: "parent → child (words added in green, removed in red)",
    }),
    diffNode(c.parent_instruction, c.instruction || ""),
    el("div", { class: "evz-label", text: "verdicts" }),
    el(
      "ul",
      { class: "evz-verdicts" },
      (c.verdicts || []).map((v) =>
        el(
          "li",
          { class: v.passed ? "evz-pass" : "evz-fail", dataset: { rule: v.rule } },
          el("b", { text: `${v.passed ? "✓" : "✗"} ${v.rule}` }),
          el("span", { text: `: ${v.reason}` }),
          evidenceNode(v.detail),
        ),
      ),
    ),
    c.answer !== null && c.answer !== undefined
      ? el(
          "div",
          {},
          el("div", { class: "evz-label", text: "answer" }),
          el("pre", { class: "evz-pre evz-answer", text: c.answer }),
        )
      : null,
    el("div", {
      class: "evz-label",
      text: "calls (expand to see the exact prompt and raw response)",
    }),
    Object.entries(c.calls || {}).map(([name, call]) => callNode(name, call, name === "rewrite")),
    el(
      "div",
      { class: "evz-actions" },
      el("button", {
        class: "evz-btn",
        text: "Lineage of this seed",
        onclick: () => actions.lineage(c.seed_id),
      }),
      el("button", {
        class: "evz-btn",
        text: "Debug this operator's template",
        onclick: () => actions.template(c.operator, c.id),
      }),
    ),
  );
}

/** @param {import("./protocol.js").LineageStepState[]} steps */
export function renderLineage(steps) {
  if (!steps?.length)
    return el("div", {
      class: "evz-empty",
      text: "Pick a candidate and press “Lineage of this seed”.",
    });
  return el(
    "ol",
    { class: "evz-lineage" },
    steps.map((s) =>
      el(
        "li",
        { class: `evz-${s.status}`, dataset: { id: s.id } },
        el("span", { class: "evz-gen", text: s.generation === 0 ? "seed" : `g${s.generation}` }),
        s.operator ? el("span", { class: "evz-badge evz-op", text: s.operator }) : null,
        el("span", {
          class: `evz-badge evz-status-${s.status}`,
          text: s.status === "rejected" ? `rejected · ${s.rejected_by}` : s.status,
        }),
        el("div", { class: "evz-row-text", text: s.text || s.error || "" }),
      ),
    ),
  );
}
