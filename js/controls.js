// Run controls and settings. Settings are edited here and applied by Python between
// generations; nothing here holds an API key (the key stays in the kernel's environment).
import { clear, el, fmt } from "./dom.js";
import { createSender } from "./protocol.js";

/** @param {import("./protocol.js").AnyModel} model */
export function createControls(model) {
  const send = createSender(model);
  const runN = el("input", {
    class: "evz-input evz-num",
    type: "number",
    min: 1,
    value: 3,
    "aria-label": "generations to run",
  });
  const stepBtn = el("button", {
    class: "evz-btn evz-primary evz-step",
    text: "Step",
    title: "evolve one generation",
    onclick: () => send("STEP"),
  });
  const runBtn = el("button", {
    class: "evz-btn evz-run",
    text: "Run",
    onclick: () => send("RUN", { n: Number(runN.value) || 1 }),
  });
  const stopBtn = el("button", {
    class: "evz-btn evz-stop",
    text: "Stop",
    title: "stop after the calls in flight; the run resumes where it stopped",
    onclick: () => send("STOP"),
  });
  const status = el("div", { class: "evz-status" });
  const bar = el("div", { class: "evz-progress-fill" });
  const settingsBox = el("div", { class: "evz-settings" });

  function renderStatus() {
    /** @type {import("./protocol.js").Status} */
    const s = model.get("status") || {};
    const running = !!s.running;
    stepBtn.disabled = running;
    runBtn.disabled = running;
    stopBtn.disabled = !running;
    clear(status);
    status.append(
      el("span", {
        class: `evz-pill ${running ? "evz-running" : ""}`,
        text: running ? `running generation ${s.generation}` : `next: generation ${s.generation}`,
      }),
      el("span", { text: `pool ${fmt(s.pool_size)}` }),
      el("span", {
        class: "evz-count-done",
        text: `generation ${s.counts_generation ?? s.generation}: done ${fmt(s.done)}/${fmt(s.pool_size)}`,
      }),
      el("span", { class: "evz-status-accepted", text: `accepted ${fmt(s.accepted)}` }),
      el("span", { class: "evz-status-rejected", text: `rejected ${fmt(s.rejected)}` }),
      el("span", { class: "evz-status-failed", text: `failed ${fmt(s.failed)}` }),
      el("span", { text: `tokens ${fmt(s.tokens)}` }),
      el("span", { text: `cost $${fmt(s.cost, 4)}` }),
      el("span", { class: "evz-meta", text: `${s.endpoint || ""}` }),
    );
    if (running)
      status.append(
        el("span", {
          class: "evz-calls",
          text: `calls in flight ${fmt(s.in_flight)} · ${fmt(s.calls_per_s, 1)} calls/s`,
        }),
      );
    if (s.endpoint_health)
      status.append(
        el("div", {
          class: "evz-message-line evz-bad evz-endpoint-health",
          text: s.endpoint_health,
        }),
      );
    if (s.budget_set)
      status.append(
        el("span", { class: `evz-budget ${s.budget_reached ? "evz-bad" : ""}`, text: s.budget }),
      );
    if (s.batches) status.append(el("span", { class: "evz-batches", text: s.batches }));
    if (s.message)
      status.append(
        el("div", { class: `evz-message-line ${s.error ? "evz-bad" : ""}`, text: s.message }),
      );
    bar.style.width = `${s.pool_size ? Math.min(100, (100 * (s.done || 0)) / s.pool_size) : 0}%`;
  }

  function field(label, input) {
    return el("label", { class: "evz-field" }, el("span", { text: label }), input);
  }

  function renderSettings() {
    /** @type {import("./protocol.js").SettingsForm} */
    const st = model.get("settings") || {};
    clear(settingsBox);
    const set = (patch) => {
      model.set("settings", { ...model.get("settings"), ...patch });
      model.save_changes();
    };
    const num = (key, step = 1) =>
      el("input", {
        class: "evz-input evz-num",
        type: "number",
        step,
        value: st[key],
        onchange: (e) => set({ [key]: Number(e.target.value) }),
      });
    const choice = (key, options) => {
      const select = el(
        "select",
        {
          class: `evz-select evz-${key.replace("_", "-")}`,
          onchange: (e) => set({ [key]: e.target.value }),
        },
        options.map(([value, label]) => el("option", { value, text: label })),
      );
      select.value = st[key] ?? "";
      return select;
    };
    const text = (key) =>
      el("input", {
        class: "evz-input",
        value: st[key] || "",
        onchange: (e) => set({ [key]: e.target.value }),
      });
    const rules = el(
      "div",
      { class: "evz-rules" },
      Object.entries(st.rules || {}).map(([rule, on]) =>
        el(
          "label",
          { class: "evz-check" },
          el("input", {
            type: "checkbox",
            checked: on ? true : undefined,
            disabled: rule === "rewrite_invalid" ? true : undefined,
            dataset: { rule },
            onchange: (e) => set({ rules: { ...st.rules, [rule]: e.target.checked } }),
          }),
          el("span", { text: rule }),
        ),
      ),
    );
    const weights = el(
      "div",
      { class: "evz-weights" },
      Object.entries(st.weights || {}).map(([op, w]) =>
        field(
          op,
          el("input", {
            class: "evz-input evz-num",
            type: "number",
            min: 0,
            step: 0.5,
            value: w,
            onchange: (e) => set({ weights: { ...st.weights, [op]: Number(e.target.value) } }),
          }),
        ),
      ),
    );
    const maxTokens = el(
      "div",
      { class: "evz-row-flex evz-max-tokens" },
      Object.entries(st.max_tokens || {}).map(([role, n]) =>
        field(
          `max tokens: ${role}`,
          el("input", {
            class: "evz-input evz-num",
            type: "number",
            min: 1,
            step: 16,
            value: n,
            dataset: { role },
            onchange: (e) =>
              set({ max_tokens: { ...st.max_tokens, [role]: Number(e.target.value) } }),
          }),
        ),
      ),
    );
    const gates = st.gates || {};
    const setGate = (patch) => set({ gates: { ...gates, ...patch } });
    const gateBox = el(
      "div",
      { class: "evz-row-flex evz-gates" },
      el(
        "label",
        { class: "evz-check" },
        el("input", {
          type: "checkbox",
          class: "evz-dedup",
          checked: gates.dedup ? true : undefined,
          onchange: (e) => setGate({ dedup: e.target.checked }),
        }),
        el("span", { text: "duplicate: reject exact duplicates" }),
      ),
      field(
        "near-duplicate at cosine ≥ (empty: off)",
        el("input", {
          class: "evz-input evz-num evz-near-dup",
          type: "number",
          min: 0,
          max: 1,
          step: 0.01,
          value: gates.near_dup ?? "",
          onchange: (e) =>
            setGate({ near_dup: e.target.value === "" ? null : Number(e.target.value) }),
        }),
      ),
      field(
        "contaminated: benchmark files (one per line)",
        el("textarea", {
          class: "evz-textarea evz-decontaminate",
          rows: 2,
          spellcheck: "false",
          text: (gates.decontaminate || []).join("\n"),
          onchange: (e) =>
            setGate({
              decontaminate: e.target.value
                .split("\n")
                .map((x) => x.trim())
                .filter(Boolean),
            }),
        }),
      ),
    );
    const budget = st.budget || {};
    const setBudget = (key, value) =>
      set({ budget: { ...budget, [key]: value === "" ? null : Number(value) } });
    const budgetNum = (key, label, step) =>
      field(
        label,
        el("input", {
          class: "evz-input evz-num",
          type: "number",
          min: 0,
          step,
          value: budget[key] ?? "",
          dataset: { budget: key },
          onchange: (e) => setBudget(key, e.target.value),
        }),
      );
    const budgetBox = el(
      "div",
      { class: "evz-row-flex evz-budget-fields" },
      budgetNum("max_tokens", "stop before (tokens, whole run)", 1000),
      budgetNum("max_cost", "stop before (USD, whole run)", 0.01),
      budgetNum("price_in", "USD per 1M input tokens", 0.01),
      budgetNum("price_out", "USD per 1M output tokens", 0.01),
    );
    settingsBox.append(
      el(
        "div",
        { class: "evz-row-flex" },
        field("seed", num("seed")),
        field("temperature", num("temperature", 0.1)),
        field("concurrency", num("concurrency")),
        field("endpoint", text("base_url")),
        field("model", text("model")),
      ),
      el(
        "div",
        { class: "evz-row-flex" },
        field(
          "prompt style",
          choice("prompt_style", [
            ["few_shot", "few-shot (small models)"],
            ["chat", "chat (the paper's instructions)"],
            ...(st.prompt_style === "mixed" ? [["mixed", "mixed (your templates)"]] : []),
          ]),
        ),
        field(
          "rule 1 and not_a_task decided by",
          choice("judge", [
            ["model", "the judge model (one call)"],
            ["check", "checks that need no model"],
          ]),
        ),
      ),
      el("div", { class: "evz-label", text: "elimination rules" }),
      rules,
      el(
        "div",
        { class: "evz-row-flex" },
        field("rule 2: “sorry” under N words", num("sorry_max_words")),
        field("rule 4: copied run of N words", num("copied_ngram")),
        el("button", {
          class: "evz-btn evz-reapply",
          text: "Re-apply rules 2–4 to the whole run (no LLM calls)",
          onclick: () => send("REAPPLY"),
        }),
      ),
      el(
        "label",
        { class: "evz-check" },
        el("input", {
          type: "checkbox",
          class: "evz-judge-difficulty",
          checked: st.judge_difficulty ? true : undefined,
          onchange: (e) => set({ judge_difficulty: e.target.checked }),
        }),
        el("span", {
          text: "rate accepted instructions' difficulty 1–10 with the judge (one more call each)",
        }),
      ),
      el("div", { class: "evz-label", text: "operator weights (uniform = the paper)" }),
      weights,
      el("div", {
        class: "evz-label",
        text: "reply budgets per role (an answer cut off at its budget is rejected as answer_truncated)",
      }),
      maxTokens,
      el("div", {
        class: "evz-label",
        text: "budget (empty: no limit; a stop keeps everything finished, and Step continues once raised)",
      }),
      budgetBox,
      el("div", {
        class: "evz-label",
        text: "dataset gates (judged when a generation closes; the what-if above applies them too)",
      }),
      gateBox,
    );
  }

  model.on("change:status", renderStatus);
  model.on("change:settings", renderSettings);
  renderStatus();
  renderSettings();
  return el(
    "div",
    { class: "evz-controls" },
    el("div", { class: "evz-row-flex" }, stepBtn, runN, runBtn, stopBtn),
    el("div", { class: "evz-progress" }, bar),
    status,
    el("details", { class: "evz-settings-box" }, el("summary", { text: "Settings" }), settingsBox),
  );
}
