// Template debugging: edit an operator's prompt, see placeholder problems as you type,
// preview it filled in, re-run one candidate with it, compare, save; or let the evolver
// suggest a revision (revision.js).
import { clear, debounce, el } from "./dom.js";
import { createSender } from "./protocol.js";
import { createRevision } from "./revision.js";

const PLACEHOLDER = /\{\{\s*([^{}]*?)\s*\}\}/g;

// The same rule the Python loader applies, checked locally for instant feedback; Python
// validates again before anything is used.
export function checkPlaceholders(text, allowed) {
  const used = [...new Set([...text.matchAll(PLACEHOLDER)].map((m) => m[1]))];
  const problems = [];
  for (const p of used) if (!allowed.includes(p)) problems.push(`unknown placeholder {{${p}}}`);
  for (const p of allowed) if (!used.includes(p)) problems.push(`placeholder {{${p}}} is missing`);
  return problems;
}

export function createTemplateEditor(model) {
  const send = createSender(model);
  const select = el("select", { class: "evz-select", "aria-label": "template" });
  const system = el("textarea", { class: "evz-textarea evz-system", rows: 3, spellcheck: "false" });
  const systemLabel = el("div", { class: "evz-label", text: "system message" });
  const userLabel = el("div", { class: "evz-label evz-user-label" });
  const user = el("textarea", { class: "evz-textarea evz-user", rows: 14, spellcheck: "false" });
  const problems = el("div", { class: "evz-problems" });
  const instruction = el("textarea", {
    class: "evz-textarea",
    rows: 2,
    placeholder: "instruction to fill in (defaults to the selected candidate's parent)",
  });
  const preview = el("pre", { class: "evz-pre evz-preview" });
  const compare = el("div", { class: "evz-compare" });
  const savePath = el("input", {
    class: "evz-input",
    placeholder: "save as… (e.g. my_templates/deepening.toml)",
  });
  const saved = el("span", { class: "evz-meta" });

  function current() {
    /** @type {Object<string, import("./protocol.js").TemplateState>} */
    const all = model.get("templates") || {};
    return all[select.value];
  }

  function load() {
    const all = model.get("templates") || {};
    const keep = select.value;
    clear(select);
    for (const name of Object.keys(all))
      select.append(
        el("option", {
          value: name,
          text: `${name} (${all[name].role}${all[name].kind ? `/${all[name].kind}` : ""})`,
        }),
      );
    if (keep && all[keep]) select.value = keep;
    fill();
  }

  function fill() {
    const t = current();
    if (!t) return;
    const few = t.style === "completion";
    system.value = t.system || "";
    system.disabled = few;
    systemLabel.textContent = few
      ? "system message (none: a few-shot text is sent as is)"
      : "system message";
    userLabel.textContent = few
      ? `text the model continues: frame, worked examples, then the task (stops at ${(t.stop || []).map((x) => JSON.stringify(x)).join(", ")})`
      : "user message (placeholders are written {{name}})";
    user.value = t.user || "";
    check();
  }

  function edited() {
    const t = current();
    return { ...t, system: system.value, user: user.value };
  }

  const sendCheck = debounce(() => {
    send("TEMPLATE_CHECK", { template: edited(), instruction: instruction.value });
  }, 250);

  function check() {
    const t = current();
    if (!t) return;
    const local = checkPlaceholders(
      `${system.value}\n${user.value}`,
      t.allowed || t.placeholders || [],
    );
    clear(problems);
    problems.className = `evz-problems ${local.length ? "evz-bad" : "evz-ok"}`;
    problems.append(local.length ? local.join("; ") : "placeholders OK");
    sendCheck();
  }

  function showResult() {
    /** @type {import("./protocol.js").TemplateResult} */
    const r = model.get("template_result") || {};
    if (r.name && r.name !== select.value) return;
    if (r.errors?.length) {
      clear(problems);
      problems.className = "evz-problems evz-bad";
      problems.append(r.errors.join("; "));
    }
    preview.textContent = (r.preview || [])
      .map((m) => `--- ${m.role} ---\n${m.content}`)
      .join("\n\n");
    clear(compare);
    if (r.rerun) {
      const side = (title, c) =>
        el(
          "div",
          { class: "evz-side" },
          el("div", { class: "evz-label", text: title }),
          el("span", {
            class: `evz-badge evz-status-${c.status}`,
            text: c.status === "rejected" ? `rejected · ${c.rejected_by}` : c.status,
          }),
          el("div", { class: "evz-label", text: "instruction" }),
          el("pre", { class: "evz-pre", text: c.instruction || c.error || "" }),
          el("div", { class: "evz-label", text: "answer" }),
          el("pre", { class: "evz-pre", text: c.answer || "" }),
        );
      compare.append(
        side("before (stored)", r.rerun.old),
        side("after (edited template)", r.rerun.new),
      );
    }
    if (r.running) compare.append(el("div", { class: "evz-meta", text: "re-running…" }));
    saved.textContent = r.saved ? `saved to ${r.saved}` : "";
  }

  // Loading a suggestion only fills the editor: the person checks it, re-runs a
  // candidate with it, and applies or saves it, as with any hand edit.
  const revision = createRevision(model, {
    current: () => (current() ? edited() : null),
    useTemplate: (name, text) => {
      if (model.get("templates")?.[name]) select.value = name;
      user.value = text;
      check();
    },
  });

  select.addEventListener("change", () => {
    fill();
    revision.redraw();
  });
  system.addEventListener("input", check);
  user.addEventListener("input", check);
  instruction.addEventListener("input", sendCheck);
  model.on("change:templates", load);
  model.on("change:template_result", showResult);
  model.on("change:template_focus", () => {
    const f = model.get("template_focus") || {};
    if (f.name) {
      select.value = f.name;
      fill();
      revision.redraw();
    }
  });

  const node = el(
    "div",
    { class: "evz-templates" },
    el("div", { class: "evz-row-flex" }, el("b", { text: "Template " }), select),
    systemLabel,
    system,
    userLabel,
    user,
    problems,
    el("div", { class: "evz-label", text: "fill in" }),
    instruction,
    el(
      "div",
      { class: "evz-row-flex" },
      el("button", {
        class: "evz-btn evz-rerun",
        text: "Re-run selected candidate with this template",
        onclick: () =>
          send("TEMPLATE_RERUN", { template: edited(), candidate_id: model.get("selected_id") }),
      }),
      el("button", {
        class: "evz-btn",
        text: "Use for next generations",
        onclick: () => send("TEMPLATE_APPLY", { template: edited() }),
      }),
      savePath,
      el("button", {
        class: "evz-btn",
        text: "Save",
        onclick: () => send("TEMPLATE_SAVE", { template: edited(), path: savePath.value }),
      }),
      saved,
    ),
    el("div", { class: "evz-label", text: "preview (exactly what would be sent)" }),
    preview,
    compare,
    revision.node,
  );
  load();
  revision.redraw();
  return node;
}
