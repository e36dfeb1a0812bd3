// The Compare tab: this run (A) against another stored run (B), with evolviz compare's
// numbers. Python computes everything; this only draws it (as text, like every view).
import { clear, el } from "./dom.js";
import { createSender } from "./protocol.js";

const pct = (v) => (v === null || v === undefined ? "–" : `${(100 * v).toFixed(1)}%`);
const interval = (d) =>
  d && d.value !== null ? `${pct(d.value)} [${pct(d.low)}, ${pct(d.high)}]` : "–";
const num = (d, digits = 1) =>
  d && d.value !== null
    ? `${d.value.toFixed(digits)} [${d.low === null ? "?" : d.low.toFixed(digits)}, ${d.high === null ? "?" : d.high.toFixed(digits)}]`
    : "–";

function table(head, rows) {
  return el(
    "table",
    { class: "evz-compare-table" },
    el(
      "thead",
      {},
      el(
        "tr",
        {},
        head.map((h) => el("th", { text: h })),
      ),
    ),
    el("tbody", {}, rows),
  );
}

/** @param {import("./protocol.js").Comparison} r */
function renderReport(r) {
  if (!r?.a)
    return el("p", {
      class: "evz-meta",
      text: "Give the path of another run store (made by evolviz run or a panel) to compare this run (A) with it (B); the charts below the panel then show B dashed beside A.",
    });
  const side = (label, s) =>
    el("div", {
      text: `${label}: ${s.store} · ${s.candidates} candidates, ${s.accepted} accepted, acceptance ${interval(s.acceptance)}`,
    });
  const tests = (r.tests || [])
    .filter((t) => t.n_a || t.n_b)
    .map((t) =>
      el(
        "tr",
        { class: t.significant ? "evz-significant" : "", dataset: { kind: t.kind, name: t.name } },
        el("td", { text: `${t.kind}: ${t.name}` }),
        el("td", { text: t.metric }),
        el("td", { text: `${interval(t.a)} (${t.k_a}/${t.n_a})` }),
        el("td", { text: `${interval(t.b)} (${t.k_b}/${t.n_b})` }),
        el("td", { text: t.p_adjusted === undefined ? "–" : t.p_adjusted.toPrecision(2) }),
        el("td", { text: t.significant ? "significant" : "" }),
      ),
    );
  const difficulty = (r.difficulty_by_generation || []).map((d) =>
    el(
      "tr",
      {},
      el("td", { text: `generation ${d.generation}` }),
      el("td", { text: num(d.a) }),
      el("td", { text: num(d.b) }),
    ),
  );
  const per = r.tokens_per_accepted || {};
  const cost = r.cost_per_accepted;
  const flipped = (r.flipped || []).map((f) =>
    el(
      "tr",
      { class: "evz-flipped" },
      el("td", { text: `g${f.generation} · ${f.operator}` }),
      el("td", { text: f.a }),
      el("td", { text: f.b }),
      el("td", { class: "evz-flipped-text", text: f.seed_text || f.seed_id }),
    ),
  );
  return el(
    "div",
    { class: "evz-compare-report" },
    side("A", r.a),
    side("B", r.b),
    el("div", {
      class: "evz-meta",
      text: `${r.paired ? "paired" : "unpaired"}: ${r.pairing}${r.paired ? ` (${r.pairs} candidate pairs, McNemar)` : " (Fisher)"}; Holm-corrected at ${r.alpha}`,
    }),
    el("div", {
      class: "evz-compare-significant",
      text: r.significant?.length
        ? `significant: ${r.significant.map((s) => `${s.kind} ${s.name} (${s.metric} ${s.direction})`).join("; ")}`
        : "no significant difference",
    }),
    table(["rate", "metric", "A (95% CI)", "B (95% CI)", "p (Holm)", ""], tests),
    el("div", {
      class: "evz-meta",
      text: `tokens per accepted instruction: A ${num(per.a, 0)} · B ${num(per.b, 0)}${cost ? ` · USD per accepted: A ${num(cost.a, 5)} · B ${num(cost.b, 5)}` : ""}`,
    }),
    difficulty.length ? table(["mean difficulty", "A", "B"], difficulty) : null,
    r.paired
      ? el("div", {
          class: "evz-label",
          text: `seeds whose outcome flipped: ${r.flipped_total ?? flipped.length}`,
        })
      : null,
    flipped.length ? table(["where", "A", "B", "seed"], flipped) : null,
  );
}

export function createCompare(model) {
  const send = createSender(model);
  const path = el("input", {
    class: "evz-input evz-compare-path",
    placeholder: "other run store, e.g. runs/b.db",
    "aria-label": "run store to compare with",
    spellcheck: "false",
  });
  const go = el("button", {
    class: "evz-btn evz-compare-go",
    text: "Compare",
    onclick: () => send("COMPARE", { path: path.value.trim() }),
  });
  const clearBtn = el("button", {
    class: "evz-btn evz-compare-clear",
    text: "Clear",
    title: "clear the comparison and the charts' overlay",
    onclick: () => send("COMPARE_CLEAR"),
  });
  const box = el("div", { class: "evz-compare-box" });
  const here = el("div", { class: "evz-meta evz-compare-a" });
  const drawHere = () => {
    const store = model.get("status")?.store || "";
    here.textContent = `A: this run, ${store}`;
    here.dataset.store = store;
  };
  model.on("change:status", drawHere);
  drawHere();
  const draw = () => {
    clear(box);
    box.append(renderReport(model.get("comparison")));
  };
  model.on("change:comparison", draw);
  draw();
  return el(
    "div",
    { class: "evz-runs-compare" },
    here,
    el("div", { class: "evz-row-flex" }, path, go, clearBtn),
    box,
  );
}
