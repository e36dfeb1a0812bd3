// "Suggest a revision": the evolver revises the edited operator template from its failures
// on a dev slice of the run's seeds, and a revision is kept only if a paired test says it
// fails less. Python runs the loop; this shows each step's numbers and template diff as it
// is recorded (all as text: proposals are LLM output).
import { clear, el } from "./dom.js";
import { createSender } from "./protocol.js";

const pct = (v) => `${Math.round(100 * v)}%`;

export function stepHeadline(h) {
  let text = `step ${h.step}: ${h.status}`;
  const fr = h.failure_rate;
  if (fr) text += ` · failure rate ${pct(fr.value)} [${pct(fr.low)}, ${pct(fr.high)}] of ${h.n}`;
  if (h.p !== undefined)
    text += ` · fixed ${h.fixed}, broke ${h.broke}, McNemar p = ${Number(h.p).toPrecision(2)}`;
  return text;
}

// A unified diff, a line per element, classed by what the line does.
export function diffLines(diff) {
  return (diff || "")
    .split("\n")
    .filter((line) => line.length > 0)
    .map((line) => {
      const kind =
        line.startsWith("+++") || line.startsWith("---")
          ? "file"
          : line.startsWith("@@")
            ? "hunk"
            : line[0] === "+"
              ? "add"
              : line[0] === "-"
                ? "del"
                : "same";
      return { kind, line };
    });
}

function renderStep(h, load) {
  const node = el(
    "div",
    { class: "evz-rev-step", dataset: { status: h.status, step: String(h.step) } },
    el(
      "div",
      { class: "evz-row-flex" },
      el("span", {
        class: `evz-rev-head evz-rev-${h.status.replace(" ", "-")}`,
        text: stepHeadline(h),
      }),
      // Any evaluated proposal can be taken by hand, kept or not: on a few dev seeds a
      // real gain can miss significance, and the person debugging decides.
      h.step > 0 && h.template
        ? el("button", {
            class: "evz-btn evz-rev-load",
            text: "Load into the editor",
            onclick: () => load(h.template),
          })
        : null,
    ),
  );
  if (h.diff) {
    const pre = el("pre", { class: "evz-pre evz-rev-diff" });
    for (const { kind, line } of diffLines(h.diff))
      pre.append(el("span", { class: `evz-diffline evz-diffline-${kind}`, text: `${line}\n` }));
    node.append(pre);
  }
  if (h.error) node.append(el("div", { class: "evz-problems evz-bad", text: h.error }));
  if (h.call_error)
    node.append(
      el("div", {
        class: "evz-problems evz-bad",
        text: `the revision call failed: ${h.call_error}`,
      }),
    );
  if (h.reply)
    node.append(
      el("div", { class: "evz-label", text: "the evolver's reply" }),
      el("pre", { class: "evz-pre", text: h.reply }),
    );
  return node;
}

export function createRevision(model, { current, useTemplate }) {
  const send = createSender(model);
  const steps = el("input", {
    class: "evz-input evz-num evz-rev-steps",
    type: "number",
    min: 1,
    max: 10,
    value: 3,
    "aria-label": "revision steps",
  });
  const dev = el("input", {
    class: "evz-input evz-num evz-rev-dev",
    type: "number",
    min: 2,
    value: 8,
    "aria-label": "dev seeds",
  });
  const go = el("button", { class: "evz-btn evz-suggest", text: "Suggest a revision" });
  const stop = el("button", { class: "evz-btn evz-suggest-stop", text: "Stop", disabled: true });
  const doing = el("span", { class: "evz-meta evz-rev-doing" });
  const box = el("div", { class: "evz-rev-box" });

  go.addEventListener("click", () => {
    const template = current();
    if (template)
      send("TEMPLATE_SUGGEST", { template, steps: Number(steps.value), dev: Number(dev.value) });
  });
  stop.addEventListener("click", () => send("TEMPLATE_SUGGEST_STOP"));

  function draw() {
    /** @type {import("./protocol.js").Revision} */
    const r = model.get("revision") || {};
    const t = current();
    const operator = !!t && t.role === "operator";
    go.disabled = !!r.running || !operator;
    go.title = operator
      ? ""
      : "revisions are suggested for operator templates (the rewrite prompts)";
    stop.disabled = !r.running;
    doing.textContent = r.running ? r.doing || "working…" : "";
    clear(box);
    if (!r.name) return;
    box.append(
      el("div", {
        class: "evz-meta",
        text: `revising ${r.name} on ${r.dev} dev seeds, at most ${r.steps_asked} step(s); every call is stored in ${r.store}`,
      }),
    );
    for (const h of r.steps || []) box.append(renderStep(h, (text) => useTemplate(r.name, text)));
    if (r.error)
      box.append(el("div", { class: "evz-problems evz-bad evz-rev-error", text: r.error }));
    if (r.best) {
      box.append(
        el("div", {
          class: "evz-rev-result",
          text: r.best.step
            ? `kept: step ${r.best.step}`
            : `no revision was kept: none failed significantly less (McNemar p < 0.05) on ${r.dev} dev seeds; more dev seeds can tell a smaller gain apart`,
        }),
        el("div", {
          class: "evz-meta",
          text: "a loaded template is only in the editor: check it, re-run a candidate with it, then use it or save it",
        }),
      );
    }
  }

  model.on("change:revision", draw);
  draw();
  return {
    redraw: draw,
    node: el(
      "div",
      { class: "evz-revision" },
      el("div", {
        class: "evz-label",
        text: "let the evolver revise this template from its failures (kept only if it fails significantly less on the dev seeds)",
      }),
      el(
        "div",
        { class: "evz-row-flex" },
        go,
        el("span", { class: "evz-meta", text: "steps" }),
        steps,
        el("span", { class: "evz-meta", text: "dev seeds" }),
        dev,
        stop,
        doing,
      ),
      box,
    ),
  };
}
