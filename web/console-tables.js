// The operator console's tables and form fields: paged lists with "Load more", rows, selects.
// Loaded after console-core.js (see there).
"use strict";

(() => {
  const {
    h,
    state,
    live,
    announce,
    plural,
    number,
    SignedOut,
    describeError,
    errorBox,
  } = window.GraphhookConsole;
  const { scrollable, headRow, dataTable, words } = window.GraphhookWeb;
  const common = window.GraphhookWeb;

  // ---------------------------------------------------------------- tables

  /**
   * A table loaded page by page (`next_cursor`), with a "Load more" button. `fetch(cursor)`
   * returns `{data, next_cursor}`; `row(item)` returns a <tr>; `caption` is a function, `empty`
   * a text or a function. `reload()` starts again.
   */
  function pagedTable(host, { caption, columns, row, fetchPage, empty, one, noun, className, what }) {
    let seq = 0;
    async function reload() {
      seq += 1;
      const mine = seq;
      const gen = state.generation;
      const current = () => mine === seq && live(gen);
      let cursor = null;
      let shown = 0;
      const tbody = h("tbody");
      const table = h("table", { class: className }, h("caption", null, caption()), headRow(columns), tbody);
      const more = h("button", { type: "button", class: "secondary" }, `Load more ${noun}`);
      const moreLine = h("p", { class: "more" }, more);
      host.setAttribute("aria-busy", "true");
      host.replaceChildren(h("p", { class: "muted" }, `Loading ${noun}…`));

      async function next(first) {
        more.disabled = true;
        let page;
        try {
          page = await fetchPage(cursor);
        } catch (error) {
          if (error instanceof SignedOut || !current()) return;
          host.removeAttribute("aria-busy");
          more.disabled = false;
          if (first) host.replaceChildren(errorBox(`Could not load ${what}`, error, reload));
          else announce(`Could not load more ${noun}: ${describeError(error)}`);
          return;
        }
        if (!current()) return;
        const rows = page.data.map(row);
        tbody.append(...rows);
        shown += rows.length;
        cursor = page.next_cursor ?? null;
        host.removeAttribute("aria-busy");
        if (first) {
          host.replaceChildren(shown ? scrollable(table) : h("p", { class: "empty" }, typeof empty === "function" ? empty() : empty));
          if (shown) host.append(moreLine);
        }
        moreLine.hidden = !cursor;
        more.disabled = false;
        if (first) {
          announce(`${plural(shown, one, noun)} shown${cursor ? "; more can be loaded" : ""}.`);
        } else {
          announce(`${plural(rows.length, one, noun)} more loaded; ${number(shown)} shown.`);
          // The button is gone on the last page: keep focus in the table, on the first new row.
          if (!cursor && rows.length) {
            const cell = rows[0].querySelector("th, td");
            cell.setAttribute("tabindex", "-1");
            cell.focus();
          }
        }
      }
      more.addEventListener("click", () => next(false));
      await next(true);
    }
    return { reload };
  }

  /** Leaves a cell out of a row (a column that is not shown). */
  const SKIP = Symbol("no such column");

  /** A <tr> whose first cell is the row header; other cells are <td>s or their content. */
  function tr(header, ...cells) {
    return h(
      "tr",
      null,
      h("th", { scope: "row" }, header),
      cells
        .filter((c) => c !== SKIP)
        .map((c) => (c instanceof Node && c.nodeName === "TD" ? c : h("td", null, c))),
    );
  }

  /**
   * A tenant in a table cell: its name, linked to its page, over its id; its id alone when the
   * name is not known; "—" without a tenant (deployment-wide, or its data removed).
   */
  function tenantCell(id, name) {
    if (!id) return "—";
    const href = `#/tenants/${encodeURIComponent(id)}`;
    if (!name) return h("a", { href }, h("code", null, id));
    return [h("a", { href, class: "tenant-name" }, name), h("code", { class: "sub-kind" }, id)];
  }

  function numTd(n) {
    return h("td", { class: "num" }, number(n));
  }

  /** A select with an "any" option first. */
  function select(id, anyLabel, values, selected) {
    const options = [["", anyLabel], ...values.map((v) => [v, words(v)])];
    return common.select(id, options, selected, { name: id });
  }

  function field(id, label, control, help) {
    return common.field(label, control, help, id);
  }

  Object.assign(window.GraphhookConsole, { scrollable, headRow, dataTable, pagedTable, SKIP, tr, tenantCell, numTd, select, field });
})();
