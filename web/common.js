// What the tenant portal and the operator console share: building the DOM (text is always text,
// never markup: the pages' CSP allows no inline code), fields, selects and table scaffolding,
// calling a same-origin JSON api with a bearer token, relative times and hash routes.
//
// Loaded with `defer` before portal-core.js and console-core.js, which take what they need from
// window.GraphhookWeb and add what is theirs alone (the session, sign-in, the views).
"use strict";

(() => {
  const SVG_NS = "http://www.w3.org/2000/svg";
  const absent = (v) => v === null || v === undefined || v === false;

  // ---- DOM -----------------------------------------------------------------------------------

  /** Sets attributes; `on…` functions become listeners, `true` an empty attribute. */
  function setAttrs(el, attrs) {
    for (const [name, value] of Object.entries(attrs || {})) {
      if (absent(value)) continue;
      if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2), value);
      else el.setAttribute(name, value === true ? "" : String(value));
    }
  }

  /** Appends children (arrays flattened, nulls skipped, strings as text nodes). */
  function appendAll(el, children) {
    for (const child of children.flat(Infinity)) {
      if (absent(child)) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }

  /** An HTML element: h("p", {class: "note"}, "text", child, …). Text is always text. */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    setAttrs(el, attrs);
    return appendAll(el, children);
  }

  /** An SVG element, built like h(). */
  function svg(tag, attrs, ...children) {
    const el = document.createElementNS(SVG_NS, tag);
    setAttrs(el, attrs);
    return appendAll(el, children);
  }

  /** Replaces an element's children (arrays flattened, nulls skipped). */
  function fill(el, ...children) {
    el.replaceChildren(...children.flat(Infinity).filter((c) => !absent(c)));
    return el;
  }

  /** A snake_case code as words: "pending_verification" → "pending verification". */
  function words(code) {
    return String(code ?? "").replaceAll("_", " ");
  }

  /** One term of a <dl>: its name and its value, in a <div> (of class `cls`). */
  function term(name, value, cls) {
    return h("div", { class: cls }, h("dt", null, name), h("dd", null, value));
  }

  /** A labelled control with optional help; the control gets `id` (or a made-up one) if it has none. */
  function field(label, control, help, id) {
    if (!control.id) control.id = id || `f-${Math.random().toString(36).slice(2, 10)}`;
    const helpId = help ? `${control.id}-help` : null;
    if (helpId) control.setAttribute("aria-describedby", helpId);
    return h("div", { class: "field" }, h("label", { for: control.id }, label), control,
      help ? h("p", { class: "help", id: helpId }, help) : null);
  }

  /** A <select> of `[value, text]` options, `selected` chosen; `attrs` go on the select. */
  function select(id, options, selected, attrs = {}) {
    return h("select", { id, ...attrs }, options.map(([v, text]) => h("option", { value: v, selected: v === selected }, text)));
  }

  /** A table in a horizontally scrolling box. */
  function scrollable(table) {
    return h("div", { class: "table-wrap" }, table);
  }

  /** A <thead> of column headers: labels, or `{label, numeric}`. */
  function headRow(columns) {
    return h("thead", null, h("tr", null, columns.map((c) => (c && typeof c === "object" && !(c instanceof Node)
      ? h("th", { scope: "col", class: c.numeric ? "num" : null }, c.label)
      : h("th", { scope: "col" }, c)))));
  }

  /**
   * A scrolling table (of class `className`, if given) of `rows` (<tr>s) under `columns` (as
   * headRow takes them) and `caption`, which a leading "!" keeps for screen readers only.
   */
  function dataTable(caption, columns, rows, className) {
    const hidden = caption.startsWith("!");
    return scrollable(h("table", { class: className },
      h("caption", { class: hidden ? "sr-only" : null }, hidden ? caption.slice(1) : caption),
      headRow(columns), h("tbody", null, rows)));
  }

  /** Marks the navigation link whose `data-<key>` is `current` as the current page. */
  function markNav(links, key, current) {
    for (const link of links) {
      if (link.dataset[key] === current) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
  }

  // ---- the api -------------------------------------------------------------------------------

  /** The server could not be reached at all (no HTTP answer). */
  class Unreachable extends Error {}

  /**
   * Calls a JSON api of this origin: `{response, data}` whatever the status, `data` being the
   * parsed body or null (empty or not JSON). Throws Unreachable when no answer came.
   */
  async function request(method, path, { body, token, credentials } = {}) {
    const headers = { accept: "application/json" };
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    let response;
    try {
      response = await fetch(path, {
        method, headers, cache: "no-store", credentials,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      throw new Unreachable(error.message);
    }
    const text = await response.text().catch(() => "");
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null;
    }
    return { response, data };
  }

  // ---- time ----------------------------------------------------------------------------------

  const UNITS = [["day", 86400], ["hour", 3600], ["minute", 60], ["second", 1]];

  /** "in 2 days", "5 minutes ago" (in `locale`, the browser's when undefined). */
  function relativeTime(date, locale) {
    const seconds = (date.getTime() - Date.now()) / 1000;
    const [unit, size] = UNITS.find(([, s]) => Math.abs(seconds) >= s) || UNITS[3];
    return new Intl.RelativeTimeFormat(locale, { numeric: "auto" }).format(Math.round(seconds / size), unit);
  }

  // ---- routes --------------------------------------------------------------------------------

  /** A route's text ("tenants/ten_1?status=active") as its decoded path parts and its query. */
  function parseRoute(text) {
    const [path, search = ""] = text.split("?");
    const parts = path.split("/").filter(Boolean).map((p) => {
      try {
        return decodeURIComponent(p);
      } catch {
        return p;
      }
    });
    return { parts, params: new URLSearchParams(search) };
  }

  window.GraphhookWeb = {
    h, svg, fill, words, term, field, select, scrollable, headRow, dataTable, markNav, Unreachable, request, relativeTime,
    parseRoute,
  };
})();
