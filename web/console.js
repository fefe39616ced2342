// The operator console: plain JavaScript against the operator api (/admin/v1) of this origin.
//
// The operator token lives in this tab's sessionStorage only and goes out as
// `Authorization: Bearer …`; a 401 from any call returns to sign-in with the server's message.
// The page's CSP allows no inline code or styles, so the DOM is built with createElement and
// textContent (never innerHTML), and charts are SVG built with createElementNS.
"use strict";

(() => {
  const TOKEN_KEY = "graphhook.operatorToken";
  const SVG_NS = "http://www.w3.org/2000/svg";
  const TENANT_STATUSES = ["pending", "active", "consent_revoked", "suspended", "offboarded"];
  const SUBSCRIPTION_STATUSES = ["creating", "active", "paused", "failed", "deleted"];
  const PAGE_SIZE = 50;

  const main = document.getElementById("main");
  const statusRegion = document.getElementById("status");
  const nav = document.getElementById("nav");
  const who = document.getElementById("who");

  const state = {
    token: null,
    claims: null,
    /** Bumped by every render: work started for an older one is dropped when it completes. */
    generation: 0,
    /** Move focus to the new view's heading (after a navigation or a sign-in). */
    focusHeading: false,
    /** The tenants list last shown (with its search), for the way back from a tenant. */
    tenantsHash: "#/tenants",
  };

  // ---------------------------------------------------------------- DOM helpers

  function setAttrs(el, attrs) {
    if (!attrs) return;
    for (const [name, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (name.startsWith("on") && typeof value === "function") {
        el.addEventListener(name.slice(2), value);
      } else {
        el.setAttribute(name, value === true ? "" : String(value));
      }
    }
  }

  function appendAll(el, children) {
    for (const child of children.flat(Infinity)) {
      if (child === undefined || child === null || child === false) continue;
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

  /** An SVG element. */
  function svg(tag, attrs, ...children) {
    const el = document.createElementNS(SVG_NS, tag);
    setAttrs(el, attrs);
    return appendAll(el, children);
  }

  let ids = 0;
  function uid(prefix) {
    ids += 1;
    return `${prefix}-${ids}`;
  }

  /** Says something through the status region (re-announced even when the text repeats). */
  function announce(text) {
    statusRegion.textContent = "";
    window.setTimeout(() => {
      statusRegion.textContent = text;
    }, 50);
  }

  function plural(n, one, many) {
    return `${n.toLocaleString("en")} ${n === 1 ? one : many}`;
  }

  // ---------------------------------------------------------------- formatting

  function parseDate(iso) {
    if (!iso) return null;
    const date = new Date(iso);
    return Number.isNaN(date.getTime()) ? null : date;
  }

  /** "2026-01-02 03:04 UTC". */
  function formatTime(iso) {
    const date = parseDate(iso);
    if (!date) return iso ? String(iso) : "—";
    return `${date.toISOString().slice(0, 16).replace("T", " ")} UTC`;
  }

  const relativeFormat = new Intl.RelativeTimeFormat("en", { numeric: "auto" });
  /** "in 2 days", "5 minutes ago". */
  function relative(iso) {
    const date = parseDate(iso);
    if (!date) return "";
    const seconds = (date.getTime() - Date.now()) / 1000;
    const units = [
      ["day", 86400],
      ["hour", 3600],
      ["minute", 60],
    ];
    for (const [unit, size] of units) {
      if (Math.abs(seconds) >= size) return relativeFormat.format(Math.round(seconds / size), unit);
    }
    return relativeFormat.format(Math.round(seconds), "second");
  }

  /** A <time> element; `withRelative` adds "in 2 days" below it. */
  function time(iso, { withRelative = false, empty = "—" } = {}) {
    if (!iso) return empty;
    const element = h("time", { datetime: iso, title: iso }, formatTime(iso));
    if (!withRelative || !parseDate(iso)) return element;
    return h("span", { class: "when" }, element, " ", h("span", { class: "rel" }, relative(iso)));
  }

  /** A time within a sentence: "2026-01-02 03:04 UTC (5 minutes ago)". */
  function timeInline(iso) {
    if (!parseDate(iso)) return time(iso);
    return [time(iso), ` (${relative(iso)})`];
  }

  function hourLabel(iso) {
    const date = parseDate(iso);
    return date ? `${String(date.getUTCHours()).padStart(2, "0")}:00` : "?";
  }

  function number(n) {
    return n === null || n === undefined ? "—" : Number(n).toLocaleString("en");
  }

  function percent(rate) {
    return rate === null || rate === undefined ? "—" : `${(rate * 100).toFixed(1)} %`;
  }

  function millis(ms) {
    return ms === null || ms === undefined ? "—" : `${Number(ms).toLocaleString("en")} ms`;
  }

  function badge(status) {
    return h("span", { class: `badge s-${status}` }, String(status ?? "—").replace(/_/g, " "));
  }

  // ---------------------------------------------------------------- the operator token

  /** The JWT's payload, decoded for display only (the server verifies the token). */
  function decodeClaims(token) {
    try {
      const part = token.split(".")[1];
      const base64 = part.replace(/-/g, "+").replace(/_/g, "/");
      const padded = base64.padEnd(Math.ceil(base64.length / 4) * 4, "=");
      const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
      const claims = JSON.parse(new TextDecoder().decode(bytes));
      return claims && typeof claims === "object" ? claims : null;
    } catch {
      return null;
    }
  }

  function operatorName() {
    const sub = state.claims?.sub;
    return typeof sub === "string" && sub ? sub : "an operator";
  }

  function showSignedIn() {
    document.getElementById("operator-name").textContent = operatorName();
    const expiry = document.getElementById("token-expiry");
    const exp = state.claims?.exp;
    if (typeof exp === "number") {
      const at = new Date(exp * 1000).toISOString();
      const soon = exp * 1000 - Date.now() < 86400 * 1000;
      expiry.textContent = ` (token until ${soon ? `${at.slice(11, 16)} UTC` : at.slice(0, 10)})`;
      expiry.title = `The operator token expires at ${formatTime(at)}.`;
    } else {
      expiry.textContent = "";
    }
    nav.hidden = false;
    who.hidden = false;
  }

  function forget() {
    sessionStorage.removeItem(TOKEN_KEY);
    state.token = null;
    state.claims = null;
    nav.hidden = true;
    who.hidden = true;
  }

  // ---------------------------------------------------------------- the api

  class ApiError extends Error {
    constructor(status, code, message, requestId) {
      super(message);
      this.status = status;
      this.code = code;
      this.requestId = requestId;
    }
  }

  /** Thrown after a 401 sent the operator back to sign-in: nothing more to show. */
  class SignedOut extends Error {}

  async function api(method, path, body) {
    if (!state.token) {
      renderSignIn("Sign in with an operator token.");
      throw new SignedOut("signed out");
    }
    const headers = { authorization: `Bearer ${state.token}`, accept: "application/json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    let response;
    try {
      response = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
        credentials: "omit",
      });
    } catch (error) {
      throw new ApiError(0, "network", `the server could not be reached (${error.message})`, null);
    }
    const text = await response.text();
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = null;
      }
    }
    if (response.status === 401) {
      const message = data?.message ?? "the operator token was refused";
      forget();
      renderSignIn(message);
      throw new SignedOut(message);
    }
    if (!response.ok) {
      throw new ApiError(
        response.status,
        data?.code ?? null,
        data?.message ?? `the server answered ${response.status} ${response.statusText}`,
        data?.request_id ?? response.headers.get("x-request-id"),
      );
    }
    return data;
  }

  function query(params) {
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(params)) {
      if (value !== undefined && value !== null && value !== "") search.set(key, String(value));
    }
    const text = search.toString();
    return text ? `?${text}` : "";
  }

  function describeError(error) {
    const id = error.requestId ? ` (request ${error.requestId})` : "";
    return `${error.message}${id}`;
  }

  /** A visible, announced error, with a way to try again. */
  function errorBox(what, error, retry) {
    return h(
      "div",
      { class: "alert", role: "alert" },
      h("p", null, h("strong", null, `${what}: `), describeError(error)),
      retry ? h("button", { type: "button", class: "secondary small", onclick: retry }, "Try again") : null,
    );
  }

  // ---------------------------------------------------------------- sign-in

  function renderSignIn(message) {
    state.generation += 1;
    nav.hidden = true;
    who.hidden = true;
    document.title = "Sign in — Graphhook console";
    const input = h("input", {
      id: "token",
      name: "token",
      type: "password",
      autocomplete: "off",
      spellcheck: "false",
      required: true,
      "aria-describedby": "token-help",
    });
    const button = h("button", { type: "submit" }, "Sign in");
    const problem = h("div", { id: "sign-in-problem" });
    if (message) {
      problem.append(
        h("div", { class: "alert", role: "alert" }, h("p", null, h("strong", null, "Not signed in: "), message)),
      );
    }
    const form = h(
      "form",
      { class: "card sign-in", novalidate: true, "aria-labelledby": "view-title" },
      h(
        "div",
        { class: "field" },
        h("label", { for: "token" }, "Operator token"),
        input,
        h(
          "p",
          { class: "help", id: "token-help" },
          "Paste a token minted by ",
          h("code", null, "graphhook admin token --name <you> --ttl 8h"),
          ". It stays in this browser tab (session storage) and is sent only to this server.",
        ),
      ),
      button,
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const token = input.value.trim().replace(/^bearer\s+/i, "");
      if (!token) {
        problem.replaceChildren(
          h("div", { class: "alert", role: "alert" }, h("p", null, "Paste your operator token first.")),
        );
        input.focus();
        return;
      }
      button.disabled = true;
      announce("Signing in…");
      await signIn(token);
      button.disabled = false;
    });
    main.replaceChildren(
      h("h1", { id: "view-title", tabindex: "-1" }, "Operator console"),
      h("p", { class: "lead" }, "Sign in to find tenants, suspend and resume them, and watch the service."),
      problem,
      form,
    );
    input.focus();
    if (message) announce(`Not signed in: ${message}`);
  }

  async function signIn(token) {
    state.token = token;
    state.claims = decodeClaims(token);
    try {
      // Cheap and read-only: proves the token before it is kept.
      await api("GET", "/admin/v1/credential");
    } catch (error) {
      if (error instanceof SignedOut) return;
      state.token = null;
      state.claims = null;
      renderSignIn(`the server could not check the token: ${describeError(error)}`);
      return;
    }
    sessionStorage.setItem(TOKEN_KEY, token);
    showSignedIn();
    announce(`Signed in as ${operatorName()}.`);
    state.focusHeading = true;
    route();
  }

  function signOut() {
    forget();
    renderSignIn(null);
    announce("Signed out; the token is forgotten.");
  }

  // ---------------------------------------------------------------- routing

  function parseHash() {
    const raw = location.hash.startsWith("#/") ? location.hash.slice(2) : "";
    const [path, search = ""] = raw.split("?");
    const parts = path
      .split("/")
      .filter(Boolean)
      .map((p) => {
        try {
          return decodeURIComponent(p);
        } catch {
          return p;
        }
      });
    return { parts, params: new URLSearchParams(search) };
  }

  function markNav(view) {
    for (const link of nav.querySelectorAll("a[data-view]")) {
      if (link.dataset.view === view) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
  }

  /** Starts a view: clears <main>, sets the heading and title; returns its generation. */
  function startView(title, ...before) {
    state.generation += 1;
    document.title = `${title} — Graphhook console`;
    const heading = h("h1", { id: "view-title", tabindex: "-1" }, title);
    main.replaceChildren(...before, heading);
    if (state.focusHeading) {
      heading.focus();
      state.focusHeading = false;
    }
    return { gen: state.generation, heading };
  }

  function live(gen) {
    return gen === state.generation;
  }

  function route() {
    if (!state.token) {
      renderSignIn(null);
      return;
    }
    showSignedIn();
    const { parts, params } = parseHash();
    const [view = "tenants", id] = parts;
    markNav(view);
    switch (view) {
      case "tenants":
        if (id) viewTenant(id);
        else viewTenants(params);
        break;
      case "subscriptions":
        viewSubscriptions(params);
        break;
      case "operations":
        viewOperations();
        break;
      case "audit":
        viewAudit(params);
        break;
      default:
        startView("Not found");
        main.append(h("p", null, "There is no such page. ", h("a", { href: "#/tenants" }, "Go to the tenants.")));
    }
  }

  /** Replaces the hash without a navigation (a list's filters changed). */
  function replaceHash(hash) {
    history.replaceState(null, "", hash);
  }

  // ---------------------------------------------------------------- tables

  function scrollable(table) {
    return h("div", { class: "table-wrap" }, table);
  }

  function headRow(columns) {
    return h(
      "thead",
      null,
      h(
        "tr",
        null,
        columns.map((c) => h("th", { scope: "col", class: c.numeric ? "num" : null }, c.label)),
      ),
    );
  }

  /**
   * A table loaded page by page (`next_cursor`), with a "Load more" button. `fetch(cursor)`
   * returns `{data, next_cursor}`; `row(item)` returns a <tr>. `reload()` starts again.
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
          host.replaceChildren(shown ? scrollable(table) : h("p", { class: "empty" }, empty));
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

  function numTd(n) {
    return h("td", { class: "num" }, number(n));
  }

  /** A select with an "any" option first. */
  function select(id, anyLabel, values, selected) {
    return h(
      "select",
      { id, name: id },
      h("option", { value: "" }, anyLabel),
      values.map((v) => h("option", { value: v, selected: v === selected }, v.replace(/_/g, " "))),
    );
  }

  function field(id, label, control, help) {
    const helpId = help ? `${id}-help` : null;
    if (helpId) control.setAttribute("aria-describedby", helpId);
    return h(
      "div",
      { class: "field" },
      h("label", { for: id }, label),
      control,
      help ? h("p", { class: "help", id: helpId }, help) : null,
    );
  }

  // ---------------------------------------------------------------- Tenants

  function viewTenants(params) {
    const search = params.get("search") ?? "";
    const status = params.get("status") ?? "";
    state.tenantsHash = `#/tenants${query({ search, status })}`;
    startView("Tenants");
    const searchInput = h("input", { id: "tenant-search", type: "search", value: search, autocomplete: "off" });
    const statusSelect = select("tenant-status", "Any status", TENANT_STATUSES, status);
    const form = h(
      "form",
      { class: "filters", role: "search", "aria-label": "Find tenants" },
      field("tenant-search", "Search", searchInput, "Part of the name, or the exact Entra tenant id."),
      field("tenant-status", "Status", statusSelect),
      h("div", { class: "field submit" }, h("button", { type: "submit" }, "Search")),
    );
    const results = h("section", { "aria-label": "Tenants found" });
    main.append(form, results);

    let filters = { search, status };
    const list = pagedTable(results, {
      what: "the tenants",
      one: "tenant",
      noun: "tenants",
      className: "tenants",
      caption: () =>
        filters.search
          ? `Tenants matching “${filters.search}”${filters.status ? `, ${filters.status.replace(/_/g, " ")}` : ""}`
          : filters.status
            ? `Tenants that are ${filters.status.replace(/_/g, " ")}`
            : "All tenants",
      empty: "No tenant matches.",
      columns: [
        { label: "Name" },
        { label: "Status" },
        { label: "Subscriptions", numeric: true },
        { label: "Endpoints", numeric: true },
        { label: "Entra tenant id" },
        { label: "Created" },
      ],
      fetchPage: (cursor) =>
        api(
          "GET",
          `/admin/v1/tenants${query({ search: filters.search, status: filters.status, limit: PAGE_SIZE, cursor })}`,
        ),
      row: (t) =>
        tr(
          h("a", { href: `#/tenants/${encodeURIComponent(t.id)}` }, t.name),
          badge(t.status),
          numTd(t.subscriptions),
          numTd(t.endpoints),
          h("code", null, t.entra_tenant_id),
          time(t.created_at),
        ),
    });
    const apply = (event) => {
      event?.preventDefault();
      filters = { search: searchInput.value.trim(), status: statusSelect.value };
      state.tenantsHash = `#/tenants${query(filters)}`;
      replaceHash(state.tenantsHash);
      list.reload();
    };
    form.addEventListener("submit", apply);
    statusSelect.addEventListener("change", apply);
    list.reload();
  }

  // ---------------------------------------------------------------- a tenant

  function viewTenant(id) {
    const back = h(
      "nav",
      { class: "breadcrumb", "aria-label": "Breadcrumb" },
      h("a", { href: state.tenantsHash }, "← Tenants"),
    );
    const { gen, heading } = startView("Tenant", back);
    const notice = h("div", { class: "notices" });
    const body = h("div", { "aria-busy": "true" }, h("p", { class: "muted" }, "Loading the tenant…"));
    main.append(notice, body);

    const load = async ({ focus = false } = {}) => {
      let data;
      try {
        data = await api("GET", `/admin/v1/tenants/${encodeURIComponent(id)}`);
      } catch (error) {
        if (error instanceof SignedOut || !live(gen)) return;
        body.removeAttribute("aria-busy");
        body.replaceChildren(errorBox("Could not load the tenant", error, () => load()));
        return;
      }
      if (!live(gen)) return;
      body.removeAttribute("aria-busy");
      heading.textContent = data.tenant.name;
      document.title = `${data.tenant.name} — Graphhook console`;
      body.replaceChildren(...tenantDetail(data, { reload: load, notice, heading }));
      if (focus) heading.focus();
    };
    load();
  }

  function tenantDetail(data, ctx) {
    const t = data.tenant;
    const facts = h(
      "dl",
      { class: "facts" },
      h("div", null, h("dt", null, "Status"), h("dd", null, h("span", { id: "tenant-status" }, badge(t.status)))),
      t.status_reason ? h("div", { class: "wide" }, h("dt", null, "Why"), h("dd", { id: "tenant-status-reason" }, t.status_reason)) : null,
      h("div", null, h("dt", null, "Graphhook id"), h("dd", null, h("code", null, t.id))),
      h("div", null, h("dt", null, "Entra tenant id"), h("dd", null, h("code", null, t.entra_tenant_id))),
      h("div", null, h("dt", null, "Created"), h("dd", null, time(t.created_at))),
      h("div", null, h("dt", null, "Updated"), h("dd", null, time(t.updated_at))),
      t.offboarded_at ? h("div", null, h("dt", null, "Offboarded"), h("dd", null, time(t.offboarded_at))) : null,
    );
    return [
      facts,
      h(
        "p",
        { class: "links" },
        h("a", { href: `#/audit${query({ tenant_id: t.id })}` }, "Its audit log"),
        " · ",
        h("a", { href: `#/subscriptions${query({ tenant_id: t.id })}` }, "Its subscriptions, with filters"),
      ),
      tenantActions(t, ctx),
      section("Consent", consentView(data.consent)),
      section("Delivery health", healthView(data.delivery_health)),
      section("Subscriptions", subscriptionsTable(data.subscriptions, { showTenant: false, caption: `Subscriptions of ${t.name}` })),
      section("Endpoints", endpointsTable(data.endpoints, t.name)),
      section("API keys", keysTable(data.api_keys, t.name)),
    ];
  }

  function section(title, ...content) {
    const id = uid("section");
    return h("section", { "aria-labelledby": id }, h("h2", { id }, title), content);
  }

  function tenantActions(t, ctx) {
    const panel = h("div", { class: "action-panel" });
    const buttons = h("div", { class: "actions" });
    const wrap = h("section", { "aria-labelledby": "actions-title" }, h("h2", { id: "actions-title" }, "Actions"), buttons, panel);

    const expand = (opener) => {
      for (const b of buttons.querySelectorAll("button[aria-expanded]")) b.setAttribute("aria-expanded", String(b === opener));
    };
    const done = async (message) => {
      announce(message);
      await ctx.reload({ focus: true });
    };

    if (["active", "pending", "consent_revoked"].includes(t.status)) {
      const open = h("button", { type: "button", class: "danger", "aria-expanded": "false" }, "Suspend…");
      open.addEventListener("click", () => {
        expand(open);
        panel.replaceChildren(suspendForm(t, { done, cancel: () => closePanel(panel, open) }));
        panel.querySelector("textarea").focus();
      });
      buttons.append(open);
    }
    if (t.status === "suspended") {
      const resume = h("button", { type: "button" }, "Resume");
      resume.addEventListener("click", async () => {
        resume.disabled = true;
        try {
          const updated = await api("POST", `/admin/v1/tenants/${encodeURIComponent(t.id)}/resume`);
          await done(`${t.name} resumed; it is ${updated.status.replace(/_/g, " ")}.`);
        } catch (error) {
          if (error instanceof SignedOut) return;
          resume.disabled = false;
          panel.replaceChildren(errorBox("Could not resume", error));
        }
      });
      buttons.append(resume);
    }
    if (t.status !== "offboarded") {
      const open = h("button", { type: "button", class: "secondary danger-outline", "aria-expanded": "false" }, "Offboard…");
      open.addEventListener("click", () => {
        expand(open);
        panel.replaceChildren(offboardForm(t, { ctx, cancel: () => closePanel(panel, open) }));
        panel.querySelector("input").focus();
      });
      buttons.append(open);
    } else {
      buttons.append(h("p", { class: "muted" }, "This tenant is offboarded; nothing more can be done."));
    }
    return wrap;
  }

  function closePanel(panel, opener) {
    panel.replaceChildren();
    opener.setAttribute("aria-expanded", "false");
    opener.focus();
  }

  function suspendForm(t, { done, cancel }) {
    const reason = h("textarea", { id: "suspend-reason", name: "reason", rows: "3", maxlength: "500", required: true });
    const problem = h("div");
    const submit = h("button", { type: "submit", class: "danger" }, "Suspend tenant");
    const form = h(
      "form",
      { id: "action-form", class: "panel", novalidate: true, "aria-labelledby": "suspend-title" },
      h("h3", { id: "suspend-title" }, `Suspend ${t.name}`),
      h(
        "p",
        null,
        "Its api calls get 403 with this reason and its deliveries wait (no retry is spent) until it is resumed. " +
          "Its subscriptions are still renewed and what Graph sends is still recorded.",
      ),
      field("suspend-reason", "Reason", reason, "Shown to the tenant in its 403s and kept in the audit log (at most 500 characters)."),
      problem,
      h("div", { class: "actions" }, submit, h("button", { type: "button", class: "secondary", onclick: cancel }, "Cancel")),
    );
    form.addEventListener("keydown", (event) => {
      if (event.key === "Escape") cancel();
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const text = reason.value.trim();
      if (!text) {
        problem.replaceChildren(h("p", { class: "alert", role: "alert" }, "Give a reason: the tenant sees it."));
        reason.setAttribute("aria-invalid", "true");
        reason.focus();
        return;
      }
      submit.disabled = true;
      try {
        await api("POST", `/admin/v1/tenants/${encodeURIComponent(t.id)}/suspend`, { reason: text });
        await done(`${t.name} suspended.`);
      } catch (error) {
        if (error instanceof SignedOut) return;
        submit.disabled = false;
        problem.replaceChildren(errorBox("Could not suspend", error));
      }
    });
    return form;
  }

  function offboardForm(t, { ctx, cancel }) {
    const confirm = h("input", { id: "offboard-confirm", name: "confirm", type: "text", autocomplete: "off", spellcheck: "false", required: true });
    const problem = h("div");
    const submit = h("button", { type: "submit", class: "danger" }, "Offboard tenant");
    const form = h(
      "form",
      { id: "action-form", class: "panel", novalidate: true, "aria-labelledby": "offboard-title" },
      h("h3", { id: "offboard-title" }, `Offboard ${t.name}`),
      h(
        "div",
        { class: "alert" },
        h(
          "p",
          null,
          "This cannot be undone. Its Graph subscriptions are deleted at Graph, its API keys revoked and its deliveries stopped; " +
            "consenting again does not bring it back; its data is removed after the retention period. The audit log keeps the record.",
        ),
      ),
      field("offboard-confirm", `Type the tenant's name, ${t.name}, to confirm`, confirm),
      problem,
      h("div", { class: "actions" }, submit, h("button", { type: "button", class: "secondary", onclick: cancel }, "Cancel")),
    );
    form.addEventListener("keydown", (event) => {
      if (event.key === "Escape") cancel();
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (confirm.value !== t.name) {
        problem.replaceChildren(h("p", { class: "alert", role: "alert" }, `Type ${t.name} exactly as shown to confirm.`));
        confirm.setAttribute("aria-invalid", "true");
        confirm.focus();
        return;
      }
      submit.disabled = true;
      let report;
      try {
        report = await api("POST", `/admin/v1/tenants/${encodeURIComponent(t.id)}/offboard`, { confirm: confirm.value });
      } catch (error) {
        if (error instanceof SignedOut) return;
        submit.disabled = false;
        problem.replaceChildren(errorBox("Could not offboard", error));
        return;
      }
      ctx.notice.replaceChildren(
        h(
          "div",
          { class: "note" },
          h("p", null, h("strong", null, `${t.name} is offboarded.`)),
          h(
            "ul",
            null,
            h("li", null, `Subscriptions deleted at Graph: ${number(report.deleted_subscriptions)}`),
            h("li", null, `Subscriptions left to expire at Graph: ${number(report.subscriptions_left_at_graph)}`),
            h("li", null, `API keys revoked: ${number(report.revoked_keys)}`),
            h("li", null, "Data removed after: ", time(report.data_removed_after)),
          ),
        ),
      );
      announce(`${t.name} offboarded.`);
      await ctx.reload({ focus: true });
    });
    return form;
  }

  function consentView(consent) {
    if (!consent) return h("p", null, "No consent is in force: an administrator of the tenant must consent again.");
    return [
      h(
        "p",
        null,
        "Granted ",
        timeInline(consent.granted_at),
        ", with these application roles:",
      ),
      consent.roles.length
        ? h("ul", { class: "roles" }, consent.roles.map((r) => h("li", null, h("code", null, r))))
        : h("p", { class: "muted" }, "No roles."),
    ];
  }

  function healthView(health) {
    if (!health) return h("p", { class: "muted" }, "Not known.");
    const rate = health.attempts_24h ? health.succeeded_24h / health.attempts_24h : null;
    const item = (label, value, cls) => h("div", { class: cls }, h("dt", null, label), h("dd", null, value));
    return h(
      "dl",
      { class: "facts figures" },
      item("Attempts (24 h)", number(health.attempts_24h)),
      item("Succeeded (24 h)", number(health.succeeded_24h)),
      item("Failed (24 h)", number(health.failed_24h), health.failed_24h ? "warn" : null),
      item("Success rate (24 h)", percent(rate)),
      item("Open deliveries", number(health.open_deliveries)),
      item("Exhausted (24 h)", number(health.exhausted_24h), health.exhausted_24h ? "warn" : null),
    );
  }

  function endpointsTable(endpoints, name) {
    if (!endpoints.length) return h("p", { class: "empty" }, "No endpoints.");
    return scrollable(
      h(
        "table",
        null,
        h("caption", null, `Endpoints of ${name}`),
        headRow([{ label: "URL" }, { label: "Status" }, { label: "Failing since" }]),
        h(
          "tbody",
          null,
          endpoints.map((e) =>
            tr(
              h("code", { class: "url" }, e.url),
              [badge(e.status), e.disabled_reason ? ` (${e.disabled_reason.replace(/_/g, " ")})` : null],
              time(e.failing_since),
            ),
          ),
        ),
      ),
    );
  }

  function keysTable(keys, name) {
    if (!keys.length) return h("p", { class: "empty" }, "No API keys.");
    const now = Date.now();
    const keyState = (k) => {
      if (k.revoked_at) return [badge("revoked"), " ", time(k.revoked_at)];
      if (k.expires_at && parseDate(k.expires_at)?.getTime() <= now) return badge("expired");
      return badge("active");
    };
    return scrollable(
      h(
        "table",
        null,
        h("caption", null, `API keys of ${name} (prefixes only; secrets are never shown)`),
        headRow([
          { label: "Name" },
          { label: "Prefix" },
          { label: "State" },
          { label: "Created" },
          { label: "Last used" },
          { label: "Expires" },
        ]),
        h(
          "tbody",
          null,
          keys.map((k) =>
            tr(
              k.name || "(unnamed)",
              h("code", null, k.prefix),
              keyState(k),
              time(k.created_at),
              time(k.last_used_at, { empty: "never" }),
              time(k.expires_at, { empty: "never" }),
            ),
          ),
        ),
      ),
    );
  }

  // ---------------------------------------------------------------- subscriptions

  const SUBSCRIPTION_COLUMNS = (showTenant) => [
    { label: "Resource" },
    showTenant ? { label: "Tenant" } : null,
    { label: "Status" },
    { label: "Expires" },
    { label: "Next upkeep" },
    { label: "Last renewed" },
    { label: "Failures", numeric: true },
    { label: "Last error" },
    { label: "Action" },
  ].filter(Boolean);

  function subscriptionRow(s, { showTenant }) {
    const actionCell = h("td", { class: "action" });
    const row = tr(
      [h("code", null, s.resource), h("span", { class: "sub-kind" }, s.kind)],
      showTenant ? h("a", { href: `#/tenants/${encodeURIComponent(s.tenant_id)}` }, h("code", null, s.tenant_id)) : SKIP,
      badge(s.status),
      time(s.expires_at, { withRelative: true }),
      s.renews_at ? [s.due_action ? `${s.due_action.replace(/_/g, " ")} ` : "", time(s.renews_at, { withRelative: true })] : "—",
      time(s.last_renewed_at, { empty: "never" }),
      numTd(s.failures),
      s.last_error ? h("span", { class: "error-text" }, s.last_error) : "—",
      actionCell,
    );
    if (s.status === "active") {
      const button = h("button", { type: "button", class: "secondary small", "aria-label": `Renew now: ${s.resource}` }, "Renew now");
      button.addEventListener("click", async () => {
        button.disabled = true;
        try {
          const updated = await api("POST", `/admin/v1/subscriptions/${encodeURIComponent(s.id)}/renew`);
          const fresh = subscriptionRow(updated, { showTenant });
          row.replaceWith(fresh);
          fresh.querySelector("td.action button")?.focus();
          announce(`The renewal of ${s.resource} is due now; the next upkeep tick renews it.`);
        } catch (error) {
          if (error instanceof SignedOut) return;
          button.disabled = false;
          actionCell.querySelector(".alert")?.remove();
          actionCell.append(h("p", { class: "alert small", role: "alert" }, `Not renewed: ${describeError(error)}`));
        }
      });
      actionCell.append(button);
    } else {
      actionCell.append(h("span", { class: "muted" }, "—"));
    }
    return row;
  }

  function subscriptionsTable(subscriptions, { showTenant, caption }) {
    if (!subscriptions.length) return h("p", { class: "empty" }, "No subscriptions.");
    return scrollable(
      h(
        "table",
        { class: "subscriptions" },
        h("caption", null, caption),
        headRow(SUBSCRIPTION_COLUMNS(showTenant)),
        h("tbody", null, subscriptions.map((s) => subscriptionRow(s, { showTenant }))),
      ),
    );
  }

  function viewSubscriptions(params) {
    const tenantId = params.get("tenant_id") ?? "";
    const status = params.get("status") ?? "";
    const hours = params.get("expiring_within_hours") ?? "";
    startView("Subscriptions");
    const statusSelect = select("subscription-status", "Any but deleted", SUBSCRIPTION_STATUSES, status);
    const hoursInput = h("input", { id: "expiring-within", type: "number", min: "1", step: "1", inputmode: "numeric", value: hours });
    const form = h(
      "form",
      { class: "filters", "aria-label": "Filter subscriptions" },
      field("subscription-status", "Status", statusSelect),
      field("expiring-within", "Expiring within (hours)", hoursInput, "Leave empty for any expiry."),
      h("div", { class: "field submit" }, h("button", { type: "submit" }, "Apply")),
    );
    const scope = tenantId
      ? h("p", { class: "note" }, "Only the subscriptions of tenant ", h("a", { href: `#/tenants/${encodeURIComponent(tenantId)}` }, h("code", null, tenantId)), ". ", h("a", { href: "#/subscriptions" }, "Show every tenant's."))
      : null;
    const results = h("section", { "aria-label": "Subscriptions found" });
    main.append(scope ?? "", form, results);
    let filters = { tenant_id: tenantId, status, expiring_within_hours: hours };
    const list = pagedTable(results, {
      what: "the subscriptions",
      one: "subscription",
      noun: "subscriptions",
      className: "subscriptions",
      caption: () => {
        const parts = [filters.status ? `${filters.status} subscriptions` : "Subscriptions (all but deleted)"];
        if (filters.expiring_within_hours) parts.push(`expiring within ${filters.expiring_within_hours} h`);
        return parts.join(", ");
      },
      empty: "No subscription matches.",
      columns: SUBSCRIPTION_COLUMNS(true),
      fetchPage: (cursor) => api("GET", `/admin/v1/subscriptions${query({ ...filters, limit: PAGE_SIZE, cursor })}`),
      row: (s) => subscriptionRow(s, { showTenant: true }),
    });
    const apply = (event) => {
      event?.preventDefault();
      const value = hoursInput.value.trim();
      if (value && !/^\d+$/.test(value)) {
        announce("Expiring within: give a whole number of hours.");
        hoursInput.setAttribute("aria-invalid", "true");
        hoursInput.focus();
        return;
      }
      hoursInput.removeAttribute("aria-invalid");
      filters = { tenant_id: tenantId, status: statusSelect.value, expiring_within_hours: value };
      replaceHash(`#/subscriptions${query(filters)}`);
      list.reload();
    };
    form.addEventListener("submit", apply);
    statusSelect.addEventListener("change", apply);
    list.reload();
  }

  // ---------------------------------------------------------------- Operations

  function viewOperations() {
    const { gen } = startView("Operations");
    const refresh = h("button", { type: "button", class: "secondary" }, "Refresh");
    const queues = h("section", { "aria-labelledby": "queues-title" }, h("h2", { id: "queues-title" }, "Queues and backlogs"));
    const stats = h("section", { "aria-labelledby": "stats-title" }, h("h2", { id: "stats-title" }, "Deliveries"));
    const credential = h("section", { "aria-labelledby": "credential-title", id: "credential" }, h("h2", { id: "credential-title" }, "App credential"));
    const bodies = [queues, stats, credential].map((s) => {
      const body = h("div", { "aria-busy": "true" }, h("p", { class: "muted" }, "Loading…"));
      s.append(body);
      return body;
    });
    main.append(h("p", { class: "toolbar" }, refresh, " ", h("span", { class: "muted", id: "ops-loaded" })), credential, queues, stats);

    const load = async () => {
      refresh.disabled = true;
      const parts = [
        ["/admin/v1/queues", queuesView, "the queues"],
        ["/admin/v1/deliveries/stats", statsView, "the delivery statistics"],
        ["/admin/v1/credential", credentialView, "the credential"],
      ];
      const results = await Promise.allSettled(parts.map(([path]) => api("GET", path)));
      if (!live(gen)) return;
      if (results.some((r) => r.status === "rejected" && r.reason instanceof SignedOut)) return;
      const targets = [bodies[0], bodies[1], bodies[2]];
      results.forEach((result, i) => {
        const [, render, what] = parts[i];
        const target = targets[i];
        target.removeAttribute("aria-busy");
        if (result.status === "fulfilled") target.replaceChildren(...[render(result.value)].flat());
        else target.replaceChildren(errorBox(`Could not load ${what}`, result.reason, load));
      });
      document.getElementById("ops-loaded").textContent = `Loaded at ${formatTime(new Date().toISOString())}.`;
      refresh.disabled = false;
      announce("Operations figures loaded.");
    };
    refresh.addEventListener("click", load);
    load();
  }

  function queuesView(q) {
    const names = Object.keys(q.queues ?? {}).sort();
    const depth = names.length
      ? scrollable(
          h(
            "table",
            { class: "queues" },
            h("caption", null, "Queue depths (jobs by state)"),
            headRow([
              { label: "Queue" },
              { label: "Ready", numeric: true },
              { label: "Scheduled", numeric: true },
              { label: "Running", numeric: true },
              { label: "Dead", numeric: true },
            ]),
            h(
              "tbody",
              null,
              names.map((name) => {
                const d = q.queues[name];
                const dead = numTd(d.dead);
                if (d.dead > 0) dead.classList.add("warn");
                return tr(h("code", null, name), numTd(d.pending), numTd(d.scheduled), numTd(d.running), dead);
              }),
            ),
          ),
        )
      : h("p", { class: "alert" }, "No worker recorded queue depths in the past day: are the workers running?");
    const backlogs = scrollable(
      h(
        "table",
        { class: "backlogs" },
        h("caption", null, "Backlogs in Postgres now"),
        headRow([{ label: "Backlog" }, { label: "Count", numeric: true }, { label: "Oldest or nearest" }]),
        h(
          "tbody",
          null,
          tr("Deliveries due (pending or waiting for a retry)", numTd(q.sweeper.deliveries_due), time(q.sweeper.oldest_due_at, { withRelative: true })),
          tr("Graph batches not processed yet", numTd(q.ingest.unprocessed_batches), time(q.ingest.oldest_unprocessed_at, { withRelative: true })),
          tr(
            "Subscriptions whose upkeep is due",
            numTd(q.subscriptions.due),
            q.subscriptions.nearest_expiry ? ["nearest expiry ", time(q.subscriptions.nearest_expiry, { withRelative: true })] : "—",
          ),
        ),
      ),
    );
    return [
      h("p", { class: "muted" }, q.recorded_at ? ["Depths recorded by a worker at ", timeInline(q.recorded_at), "."] : "No recorded depths."),
      depth,
      backlogs,
    ];
  }

  function windowCard(w) {
    const label = w.window === "1h" ? "Last hour" : w.window === "24h" ? "Last 24 hours" : w.window;
    const item = (name, value, cls) => h("div", { class: cls }, h("dt", null, name), h("dd", null, value));
    return h(
      "div",
      { class: "window" },
      h("h3", null, label),
      h(
        "dl",
        { class: "facts figures" },
        item("Attempts", number(w.attempts)),
        item("Succeeded", number(w.succeeded)),
        item("Failed", number(w.failed), w.failed ? "warn" : null),
        item("Success rate", percent(w.success_rate)),
        item("Latency p50", millis(w.latency_ms?.p50)),
        item("Latency p95", millis(w.latency_ms?.p95)),
        item("Latency p99", millis(w.latency_ms?.p99)),
      ),
    );
  }

  function statsView(stats) {
    const series = stats.series ?? [];
    const legend = h(
      "ul",
      { class: "legend", "aria-hidden": "true" },
      h("li", null, h("span", { class: "swatch attempts" }), "Attempts"),
      h("li", null, h("span", { class: "swatch succeeded" }), "Succeeded"),
    );
    return [
      h("div", { class: "windows" }, (stats.windows ?? []).map(windowCard)),
      h("h3", null, "The last 24 hours, hour by hour (UTC)"),
      h("figure", { class: "chart-figure" }, h("figcaption", null, "Attempts and successes per hour"), attemptsChart(series), legend),
      h("figure", { class: "chart-figure" }, h("figcaption", null, "Median (p50) attempt latency per hour"), latencyChart(series)),
      h(
        "details",
        { class: "chart-data" },
        h("summary", null, "The hourly figures as a table"),
        scrollable(
          h(
            "table",
            { class: "series" },
            h("caption", null, "Delivery attempts per hour (UTC), oldest first"),
            headRow([
              { label: "Hour" },
              { label: "Attempts", numeric: true },
              { label: "Succeeded", numeric: true },
              { label: "Success rate", numeric: true },
              { label: "Latency p50", numeric: true },
            ]),
            h(
              "tbody",
              null,
              series.map((b) =>
                tr(
                  time(b.at),
                  numTd(b.attempts),
                  numTd(b.succeeded),
                  h("td", { class: "num" }, percent(b.attempts ? b.succeeded / b.attempts : null)),
                  h("td", { class: "num" }, millis(b.p50_ms)),
                ),
              ),
            ),
          ),
        ),
      ),
    ];
  }

  // ---------------------------------------------------------------- charts (inline SVG)

  const CHART = { width: 720, height: 220, top: 14, right: 12, bottom: 34, left: 56 };

  /** A round upper bound for an axis: 1, 2, 5 × 10ⁿ. */
  function niceMax(value) {
    if (!(value > 0)) return 1;
    const power = 10 ** Math.floor(Math.log10(value));
    for (const step of [1, 2, 5, 10]) {
      if (step * power >= value) return step * power;
    }
    return 10 * power;
  }

  /** The frame shared by both charts: <svg> with its <title>/<desc>, grid and axis labels. */
  function chartFrame(title, description, series, max, format) {
    const { width, height, top, right, bottom, left } = CHART;
    const titleId = uid("chart-title");
    const descId = uid("chart-desc");
    const root = svg(
      "svg",
      {
        class: "chart",
        viewBox: `0 0 ${width} ${height}`,
        role: "img",
        "aria-labelledby": titleId,
        "aria-describedby": descId,
        focusable: "false",
      },
      svg("title", { id: titleId }, title),
      svg("desc", { id: descId }, description),
    );
    const innerHeight = height - top - bottom;
    const innerWidth = width - left - right;
    const y = (v) => top + innerHeight - (innerHeight * v) / max;
    const grid = svg("g", { class: "grid", "aria-hidden": "true" });
    for (const v of [0, max / 2, max]) {
      grid.append(
        svg("line", { x1: left, x2: width - right, y1: y(v), y2: y(v) }),
        svg("text", { x: left - 6, y: y(v) + 4, "text-anchor": "end" }, format(v)),
      );
    }
    const band = innerWidth / Math.max(series.length, 1);
    series.forEach((b, i) => {
      if (i % 3 === 0 || i === series.length - 1) {
        grid.append(svg("text", { x: left + band * (i + 0.5), y: height - bottom + 18, "text-anchor": "middle" }, hourLabel(b.at)));
      }
    });
    root.append(grid);
    return { root, y, band, innerHeight, innerWidth };
  }

  function emptyMessage(root, text) {
    root.append(
      svg("text", { class: "chart-empty", x: CHART.width / 2, y: CHART.top + (CHART.height - CHART.top - CHART.bottom) / 2, "text-anchor": "middle" }, text),
    );
  }

  function attemptsChart(series) {
    const attempts = series.reduce((n, b) => n + b.attempts, 0);
    const succeeded = series.reduce((n, b) => n + b.succeeded, 0);
    const busiest = series.reduce((best, b) => (b.attempts > (best?.attempts ?? 0) ? b : best), null);
    const description = attempts
      ? `${plural(attempts, "attempt", "attempts")} and ${plural(succeeded, "success", "successes")} in the last 24 hours; ` +
        `the busiest hour began at ${hourLabel(busiest.at)} UTC with ${plural(busiest.attempts, "attempt", "attempts")}. ` +
        "The table below has every hour."
      : "No delivery attempts in the last 24 hours.";
    const max = niceMax(Math.max(2, ...series.map((b) => b.attempts)));
    const format = (v) => (Number.isInteger(v) ? number(v) : v.toFixed(1));
    const { root, y, band } = chartFrame("Delivery attempts and successes per hour", description, series, max, format);
    const bars = svg("g", { class: "bars" });
    const barWidth = band * 0.36;
    series.forEach((b, i) => {
      const x = CHART.left + band * i + band * 0.12;
      const label = `${hourLabel(b.at)} UTC: ${plural(b.attempts, "attempt", "attempts")}, ${number(b.succeeded)} succeeded`;
      const bar = (cls, value, dx) => {
        const top = y(value);
        return svg(
          "rect",
          { class: cls, x: x + dx, y: top, width: barWidth, height: Math.max(0, y(0) - top) },
          svg("title", null, label),
        );
      };
      if (b.attempts) bars.append(bar("bar-attempts", b.attempts, 0), bar("bar-succeeded", b.succeeded, barWidth));
    });
    root.append(bars);
    if (!attempts) emptyMessage(root, "No delivery attempts in the last 24 hours");
    return root;
  }

  function latencyChart(series) {
    const points = series.map((b, i) => ({ i, at: b.at, ms: b.p50_ms })).filter((p) => p.ms !== null && p.ms !== undefined);
    const slowest = points.reduce((best, p) => (p.ms > (best?.ms ?? -1) ? p : best), null);
    const description = points.length
      ? `Median attempt latency per hour; the slowest hour began at ${hourLabel(slowest.at)} UTC with ${millis(slowest.ms)}. ` +
        "Hours without attempts have no point. The table below has every hour."
      : "No attempt latencies in the last 24 hours.";
    const max = niceMax(Math.max(10, ...points.map((p) => p.ms)));
    const { root, y, band } = chartFrame("Median (p50) delivery latency per hour", description, series, max, (v) => `${number(Math.round(v))} ms`);
    const x = (i) => CHART.left + band * (i + 0.5);
    let d = "";
    let previous = -2;
    for (const p of points) {
      d += `${p.i === previous + 1 ? "L" : "M"}${x(p.i).toFixed(1)},${y(p.ms).toFixed(1)} `;
      previous = p.i;
    }
    if (d) root.append(svg("path", { class: "line", d: d.trim() }));
    const dots = svg("g", { class: "dots" });
    for (const p of points) {
      dots.append(svg("circle", { cx: x(p.i), cy: y(p.ms), r: 3.5 }, svg("title", null, `${hourLabel(p.at)} UTC: p50 ${millis(p.ms)}`)));
    }
    root.append(dots);
    if (!points.length) emptyMessage(root, "No latencies in the last 24 hours");
    return root;
  }

  function credentialView(c) {
    const item = (name, value) => h("div", null, h("dt", null, name), h("dd", null, value));
    return [
      c.warning
        ? h("div", { class: "alert", id: "credential-warning" }, h("p", null, h("strong", null, "Needs attention: "), c.warning))
        : h(
            "p",
            { class: "note" },
            c.expires_at ? `Nothing to do: ${plural(c.days_left ?? 0, "day", "days")} left.` : "No warning: nothing known needs doing.",
          ),
      h(
        "dl",
        { class: "facts" },
        item("Kind", c.kind),
        item("Expires", c.expires_at ? time(c.expires_at, { withRelative: true }) : c.kind === "secret" ? "not configured (microsoft.client_secret_expires_at)" : "—"),
        item("Days left", c.days_left === null || c.days_left === undefined ? "—" : number(c.days_left)),
      ),
    ];
  }

  // ---------------------------------------------------------------- Audit log

  function detailsView(entry) {
    const details = entry.details && typeof entry.details === "object" ? entry.details : {};
    const keys = Object.keys(details);
    const list = keys.length
      ? h(
          "dl",
          { class: "details" },
          keys.map((k) => {
            const v = details[k];
            const text =
              typeof v === "string"
                ? v
                : Array.isArray(v) && v.every((x) => typeof x !== "object" || x === null)
                  ? v.join(", ")
                  : JSON.stringify(v);
            return [h("dt", null, k), h("dd", null, text)];
          }),
        )
      : null;
    const request = entry.request_id ? h("p", { class: "request-id" }, "request ", h("code", null, entry.request_id)) : null;
    return list || request ? [list, request] : "—";
  }

  function viewAudit(params) {
    const tenantId = params.get("tenant_id") ?? "";
    startView("Audit log");
    const scope = tenantId
      ? h("p", { class: "note" }, "Only what concerned tenant ", h("a", { href: `#/tenants/${encodeURIComponent(tenantId)}` }, h("code", null, tenantId)), ". ", h("a", { href: "#/audit" }, "Show everything."))
      : h("p", { class: "muted" }, "Every audited action, newest first.");
    const results = h("section", { "aria-label": "Audit log entries" });
    main.append(scope, results);
    pagedTable(results, {
      what: "the audit log",
      one: "entry",
      noun: "entries",
      className: "audit",
      caption: () => (tenantId ? `Audit log of tenant ${tenantId}, newest first` : "Audit log, newest first"),
      empty: "Nothing has been audited yet.",
      columns: [{ label: "When" }, { label: "Actor" }, { label: "Action" }, { label: "Target" }, { label: "Details" }],
      fetchPage: (cursor) => api("GET", `/admin/v1/audit-log${query({ tenant_id: tenantId, limit: PAGE_SIZE, cursor })}`),
      row: (e) =>
        tr(
          time(e.created_at),
          h("td", { class: "actor" }, h("span", { class: "actor-kind" }, e.actor_kind), " ", e.actor_id ?? ""),
          h("code", { class: "action-name" }, e.action),
          e.target_kind
            ? [
                `${e.target_kind} `,
                e.target_kind === "tenant" && e.target_id
                  ? h("a", { href: `#/tenants/${encodeURIComponent(e.target_id)}` }, h("code", null, e.target_id))
                  : h("code", null, e.target_id ?? ""),
              ]
            : "—",
          h("td", null, detailsView(e)),
        ),
    }).reload();
  }

  // ---------------------------------------------------------------- start

  document.getElementById("sign-out").addEventListener("click", signOut);
  // The skip link targets <main> without touching the hash (the hash is the route).
  document.querySelector("a.skip").addEventListener("click", (event) => {
    event.preventDefault();
    main.setAttribute("tabindex", "-1");
    main.focus();
  });
  window.addEventListener("hashchange", () => {
    if (!location.hash.startsWith("#/") && location.hash !== "") return;
    state.focusHeading = true;
    route();
  });

  const saved = sessionStorage.getItem(TOKEN_KEY);
  if (saved) {
    state.token = saved;
    state.claims = decodeClaims(saved);
  }
  route();
})();
