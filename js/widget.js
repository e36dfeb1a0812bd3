// evolviz panel: an anywidget ES module. Python holds the state (the run store is the
// truth); this file only draws it and sends the user's actions back.
import "./style.css";
import { renderCard, renderLineage } from "./card.js";
import { createCompare } from "./compare.js";
import { createControls } from "./controls.js";
import { clear, debounce, el } from "./dom.js";
import { createList } from "./list.js";
import { createSender } from "./protocol.js";
import { createTemplateEditor } from "./templates.js";

function createFilters(model) {
  /** @returns {import("./protocol.js").FilterOptions} */
  const opts = () => model.get("options") || {};
  const mk = (key, label) =>
    el("select", { class: "evz-select", dataset: { filter: key }, "aria-label": label });
  const selects = {
    generation: mk("generation", "generation"),
    operator: mk("operator", "operator"),
    status: mk("status", "status"),
    rule: mk("rule", "rule"),
  };
  const search = el("input", {
    class: "evz-input evz-search",
    type: "search",
    placeholder: "search text…",
    "aria-label": "search",
  });
  const count = el("span", { class: "evz-meta evz-count" });

  function apply() {
    const q = { ...model.get("query"), offset: 0 };
    for (const [key, s] of Object.entries(selects)) q[key] = s.value || null;
    q.text = search.value || null;
    model.set("query", q);
    model.save_changes();
  }

  function fillOptions() {
    const o = opts();
    /** @type {import("./protocol.js").QueryState} */
    const q = model.get("query") || {};
    for (const [key, s] of Object.entries(selects)) {
      const keep = s.value || q[key] || "";
      clear(s);
      s.append(el("option", { value: "", text: `any ${key}` }));
      for (const v of o[key] || [])
        s.append(
          el("option", {
            value: String(v),
            text: key === "generation" ? `generation ${v}` : String(v),
          }),
        );
      s.value = keep;
    }
  }

  for (const s of Object.values(selects)) s.addEventListener("change", apply);
  search.addEventListener("input", debounce(apply, 250));
  model.on("change:options", fillOptions);
  model.on("change:page", () => {
    count.textContent = `${model.get("page")?.total || 0} candidates`;
  });
  fillOptions();
  return el("div", { class: "evz-filters" }, Object.values(selects), search, count);
}

function render({ model, el: root }) {
  const tabs = ["Candidates", "Lineage", "Templates", "Compare"];
  const panes = {};
  const tabBar = el("div", { class: "evz-tabs", role: "tablist" });
  const show = (name) => {
    for (const [n, pane] of Object.entries(panes)) pane.style.display = n === name ? "" : "none";
    for (const b of tabBar.children) b.classList.toggle("evz-active", b.dataset.tab === name);
  };
  for (const t of tabs)
    tabBar.append(
      el("button", { class: "evz-tab", dataset: { tab: t }, text: t, onclick: () => show(t) }),
    );

  const send = createSender(model);
  const select = (id) => {
    model.set("selected_id", id);
    model.save_changes();
  };
  const list = createList(model, select);
  const card = el("div", { class: "evz-card-box" });
  const actions = {
    lineage: (seedId) => {
      send("LINEAGE", { seed_id: seedId });
      show("Lineage");
    },
    template: (operator) => {
      model.set("template_focus", { name: operator });
      model.save_changes();
      show("Templates");
    },
  };
  const drawCard = () => {
    clear(card);
    card.append(renderCard(model.get("detail"), actions));
  };
  model.on("change:detail", drawCard);
  drawCard();

  panes.Candidates = el(
    "div",
    { class: "evz-pane" },
    createFilters(model),
    el("div", { class: "evz-split" }, list.node, card),
  );
  const lineageBox = el("div", { class: "evz-lineage-box" });
  const drawLineage = () => {
    clear(lineageBox);
    lineageBox.append(renderLineage(model.get("lineage")));
  };
  model.on("change:lineage", drawLineage);
  drawLineage();
  panes.Lineage = el(
    "div",
    { class: "evz-pane" },
    el("p", {
      class: "evz-meta",
      text: "A seed's family: each generation's attempt, the operator used, and the attempts that failed.",
    }),
    lineageBox,
  );
  panes.Templates = el("div", { class: "evz-pane" }, createTemplateEditor(model));
  panes.Compare = el("div", { class: "evz-pane" }, createCompare(model));

  root.classList.add("evz-root");
  root.append(
    el(
      "div",
      { class: "evz-header" },
      el("b", { text: "evolviz" }),
      el("span", { class: "evz-meta", text: " · Evol-Instruct explorer" }),
    ),
    createControls(model),
    tabBar,
    ...Object.values(panes),
  );
  show("Candidates");
  return () => clear(root);
}

export default { render };
