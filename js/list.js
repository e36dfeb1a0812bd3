// The candidate list: rows come from Python a page at a time and only the rows in view
// are in the DOM, so a 250K-candidate run scrolls like a 20-candidate one. Each row puts
// its badges on one line and the instruction under them at the row's full width, up to
// three lines, so the text is readable next to the card at the panel's default width.
import { clear, el } from "./dom.js";

export const ROW_HEIGHT = 76;
const OVERSCAN = 10; // rows drawn beyond the viewport: 16 rows stay in the DOM at the default height

export function createList(model, onSelect) {
  const spacer = el("div", { class: "evz-spacer" });
  const viewport = el("div", { class: "evz-list", tabindex: "0" }, spacer);
  const state = { rows: new Map(), total: 0, pending: false };

  function requestPage(offset) {
    const q = { ...model.get("query") };
    const limit = q.limit || 200;
    const want = Math.max(0, Math.floor(offset / limit) * limit);
    if (want === q.offset && state.pending) return;
    if (want === q.offset) return;
    state.pending = true;
    model.set("query", { ...q, offset: want, limit });
    model.save_changes();
  }

  function render() {
    /** @type {import("./protocol.js").PageState} */
    const page = model.get("page") || {};
    state.total = page.total || 0;
    if (page.reset) state.rows.clear();
    for (const [i, row] of (page.rows || []).entries()) state.rows.set((page.offset || 0) + i, row);
    state.pending = false;
    spacer.style.height = `${state.total * ROW_HEIGHT}px`;
    draw();
  }

  function draw() {
    const top = viewport.scrollTop;
    const first = Math.max(0, Math.floor(top / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(
      state.total,
      Math.ceil((top + viewport.clientHeight) / ROW_HEIGHT) + OVERSCAN,
    );
    clear(spacer);
    const selected = model.get("selected_id");
    let missing = -1;
    for (let i = first; i < last; i++) {
      const row = state.rows.get(i);
      if (!row) {
        if (missing < 0) missing = i;
        continue;
      }
      spacer.append(rowNode(row, i, row.id === selected));
    }
    if (missing >= 0) requestPage(missing);
    if (state.total === 0)
      spacer.append(
        el("div", {
          class: "evz-empty",
          text: "No candidates match. Press Step to evolve a generation.",
        }),
      );
  }

  function rowNode(row, i, isSelected) {
    const status = row.status;
    return el(
      "div",
      {
        class: `evz-row evz-${status}${isSelected ? " evz-selected" : ""}`,
        style: `top:${i * ROW_HEIGHT}px;height:${ROW_HEIGHT - 4}px`,
        dataset: { id: row.id, status },
        onclick: () => onSelect(row.id),
      },
      el(
        "div",
        { class: "evz-row-head" },
        el("span", { class: "evz-gen", text: `g${row.generation}` }),
        el("span", { class: `evz-badge evz-op`, text: row.operator }),
        el("span", {
          class: `evz-badge evz-status-${status}`,
          text: status === "rejected" ? `rejected · ${row.rejected_by}` : status,
        }),
      ),
      el("div", {
        class: "evz-row-text",
        text: row.instruction || row.error || "(no instruction)",
      }),
    );
  }

  viewport.addEventListener("scroll", () => requestAnimationFrame(draw));
  model.on("change:page", render);
  model.on("change:selected_id", draw);
  render();
  return { node: viewport, redraw: draw };
}
