// The tenant portal: plain JavaScript over the tenant api (/api/v1/…), same origin, no build step.
// Signs in with an API key (POST /portal/session) and keeps only the short-lived session token in
// sessionStorage. Every piece of tenant data goes into the page through textContent, never markup.
"use strict";
(() => {
  const SESSION = "graphhook.portal.session";
  const TROUBLE = new Set([
    "endpoint.disabled", "endpoint.circuit_opened", "message.attempt.failing", "message.attempt.exhausted",
  ]);
  /** Whether an operational event is trouble the tenant should see first (not its own doing). */
  const isTrouble = (e) => TROUBLE.has(e.event_type) && e.payload?.data?.reason !== "by_tenant";
  const OPERATIONAL = [
    "endpoint.created", "endpoint.updated", "endpoint.deleted", "endpoint.disabled",
    "endpoint.circuit_opened", "endpoint.circuit_closed",
    "message.attempt.failing", "message.attempt.exhausted", "message.attempt.recovered",
  ];
  const GRAPH_KINDS = ["message", "event", "contact", "user", "group", "conversation", "drive_item"];
  const CATALOGUE = [
    ...GRAPH_KINDS.flatMap((k) => ["created", "updated", "deleted"].map((c) => `graph.${k}.${c}`)),
    "graph.subscription.reauthorization_required", "graph.subscription.removed", "graph.subscription.missed",
    "graph.subscription.recreated", "graph.subscription.renewal_failed", "graph.subscription.paused",
    "graph.subscription.resumed", "tenant.consent_revoked", "tenant.consent_restored", ...OPERATIONAL,
  ];
  const PATTERNS = ["*", "graph.*", ...GRAPH_KINDS.map((k) => `graph.${k}.*`), "graph.subscription.*",
    "tenant.*", "endpoint.*", "message.attempt.*", "message.*"];
  // The README's table of supported resource kinds (app-only).
  const KINDS = [
    { kind: "message", label: "Mail messages", rich: true, permission: "Mail.Read",
      paths: ["users/{id}/messages", "users/{id}/mailFolders('inbox')/messages", "users/{id}/mailFolders/{id}/messages"],
      changes: ["created", "updated", "deleted"] },
    { kind: "event", label: "Calendar events", rich: true, permission: "Calendars.Read",
      paths: ["users/{id}/events"], changes: ["created", "updated", "deleted"] },
    { kind: "contact", label: "Contacts", rich: true, permission: "Contacts.Read",
      paths: ["users/{id}/contacts", "users/{id}/contactFolders/{id}/contacts"], changes: ["created", "updated", "deleted"] },
    { kind: "user", label: "Users", rich: false, permission: "User.Read.All",
      paths: ["users", "users/{id}"], changes: ["updated", "deleted"] },
    { kind: "group", label: "Groups", rich: false, permission: "Group.Read.All",
      paths: ["groups", "groups/{id}", "groups/{id}/members", "groups/{id}/owners"], changes: ["updated", "deleted"] },
    { kind: "drive_item", label: "OneDrive and SharePoint files", rich: false, permission: "Files.ReadWrite.All",
      paths: ["drives/{id}/root", "users/{id}/drive/root"], changes: ["updated"] },
  ];
  const WINDOWS = [["1h", "Last hour", 3600e3], ["24h", "Last 24 hours", 864e5], ["7d", "Last 7 days", 7 * 864e5],
    ["30d", "Last 30 days", 30 * 864e5]];
  const TONES = {
    ok: ["active", "delivered", "closed", "succeeded"],
    warn: ["pending_verification", "pending", "failed_retrying", "half_open", "creating", "requested", "paused"],
    bad: ["disabled", "exhausted", "open", "failed", "consent_revoked", "suspended", "deleted"],
  };

  const $ = (id) => document.getElementById(id);
  let generation = 0;
  let flash = null;
  let expiryTimer = null;
  let tenant = null;
  let afterNavigation = null;

  // ---- DOM helpers ---------------------------------------------------------------------------

  /** An element: attributes (on* become listeners) and children (strings become text nodes). */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") el.className = value;
      else if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
      else el.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }

  /** Replaces an element's children (arrays flattened, nulls skipped). */
  function fill(el, ...children) {
    el.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
    return el;
  }

  function badge(text, tone) {
    const t = tone || Object.keys(TONES).find((k) => TONES[k].includes(text)) || "info";
    return h("span", { class: `badge ${t}` }, String(text).replaceAll("_", " "));
  }

  function time(iso) {
    if (!iso) return h("span", { class: "muted" }, "—");
    const d = new Date(iso);
    const diff = (d.getTime() - Date.now()) / 1000;
    const units = [["day", 86400], ["hour", 3600], ["minute", 60], ["second", 1]];
    const [unit, secs] = units.find(([, s]) => Math.abs(diff) >= s) || units[3];
    const rel = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" }).format(Math.round(diff / secs), unit);
    return h("time", { datetime: iso, title: iso },
      d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" }), h("span", { class: "muted" }, ` (${rel})`));
  }

  function field(label, input, help) {
    if (!input.id) input.id = `f-${Math.random().toString(36).slice(2, 10)}`;
    if (help) input.setAttribute("aria-describedby", `${input.id}-help`);
    return h("div", { class: "field" }, h("label", { for: input.id }, label), input,
      help ? h("p", { class: "help", id: `${input.id}-help` }, help) : null);
  }

  function select(id, options, value) {
    return h("select", { id }, options.map(([v, text]) => h("option", { value: v, selected: v === value }, text)));
  }

  function table(caption, headers, rows, empty) {
    if (!rows.length) return h("p", { class: "empty" }, empty);
    return h("div", { class: "table-wrap" }, h("table", {},
      h("caption", { class: caption.startsWith("!") ? "sr-only" : "" }, caption.replace(/^!/, "")),
      h("thead", {}, h("tr", {}, headers.map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, rows)));
  }

  function props(pairs) {
    return h("dl", { class: "props" }, pairs.filter(Boolean).map(([k, v]) => h("div", {}, h("dt", {}, k), h("dd", {}, v))));
  }

  function heading(title, ...tools) {
    return h("div", { class: "page-head" }, h("h1", { tabindex: "-1" }, title), h("div", { class: "actions" }, tools));
  }

  function refreshButton(id = "refresh") {
    return h("button", { type: "button", class: "secondary", id, onclick: () => refresh() }, "Refresh");
  }

  function say(text) {
    $("alert").replaceChildren();
    $("status").replaceChildren(text ? h("p", { class: "note" }, text) : "");
  }

  function fail(error) {
    if (error instanceof SessionEnded) return;
    const body = error.body || {};
    const message = body.message || error.message || "Something went wrong.";
    $("status").replaceChildren();
    $("alert").replaceChildren(h("p", { class: "alert" }, message,
      body.request_id ? h("span", { class: "muted" }, ` (request ${body.request_id})`) : ""));
  }

  /** Runs an action from a button: disabled meanwhile, errors shown. */
  async function busy(button, label, fn) {
    const old = button.textContent;
    button.disabled = true;
    button.textContent = label;
    try {
      return await fn();
    } catch (error) {
      fail(error);
      return undefined;
    } finally {
      if (button.isConnected) {
        button.disabled = false;
        button.textContent = old;
      }
    }
  }

  /** A danger button that asks once more, inline (no dialogs). */
  function confirmButton(label, question, yesLabel, onConfirm, id, size = "") {
    const wrap = h("span", { class: "confirm" });
    const start = h("button", { type: "button", class: `danger ${size}`, id, onclick: ask }, label);
    function ask() {
      const yes = h("button", { type: "button", class: `danger ${size}` }, yesLabel);
      const no = h("button", { type: "button", class: `secondary ${size}` }, "Cancel");
      yes.addEventListener("click", () => busy(yes, "Working…", onConfirm));
      no.addEventListener("click", () => { wrap.replaceChildren(start); start.focus(); });
      wrap.replaceChildren(h("span", { class: "confirm-q" }, question), yes, no);
      yes.focus();
    }
    wrap.append(start);
    return wrap;
  }

  /** Event type chips: type, then Enter or a comma; typed text left over counts too. */
  function chipInput(id, label, initial) {
    const values = [...(initial || [])];
    const list = h("ul", { class: "chips", "aria-label": "Chosen types" });
    const input = h("input", { type: "text", id, list: `${id}-options`, autocomplete: "off", spellcheck: "false" });
    const options = h("datalist", { id: `${id}-options` }, [...PATTERNS, ...CATALOGUE].map((t) => h("option", { value: t })));
    function add(text) {
      for (const t of text.split(",").map((s) => s.trim()).filter(Boolean)) if (!values.includes(t)) values.push(t);
      draw();
    }
    function draw() {
      list.replaceChildren(...values.map((t) => h("li", { class: "chip" }, h("code", {}, t),
        h("button", { type: "button", class: "chip-x", "aria-label": `Remove ${t}`,
          onclick: () => { values.splice(values.indexOf(t), 1); draw(); input.focus(); } }, "×"))));
    }
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === ",") {
        e.preventDefault();
        add(input.value);
        input.value = "";
      }
    });
    draw();
    const el = h("div", { class: "field" }, h("label", { for: id }, label), list, input, options,
      h("p", { class: "help", id: `${id}-help` }, "Empty: every event type. A type (graph.user.updated) or a prefix " +
        "wildcard (graph.message.*, endpoint.*); press Enter or type a comma to add several."));
    input.setAttribute("aria-describedby", `${id}-help`);
    return { el, values: () => { add(input.value); input.value = ""; return [...values]; } };
  }

  function parseHeaders(text) {
    const headers = {};
    for (const line of text.split("\n").map((l) => l.trim()).filter(Boolean)) {
      const at = line.indexOf(":");
      if (at < 1) throw new Error(`Custom headers: "${line}" is not "Name: value".`);
      headers[line.slice(0, at).trim()] = line.slice(at + 1).trim();
    }
    return headers;
  }

  // ---- Session and api -----------------------------------------------------------------------

  class SessionEnded extends Error {}
  class ApiError extends Error {
    constructor(status, body) {
      super(body?.message || `HTTP ${status}`);
      this.status = status;
      this.body = body;
    }
  }

  function session() {
    try {
      const s = JSON.parse(sessionStorage.getItem(SESSION));
      return s && s.token && Date.parse(s.expires_at) > Date.now() ? s : null;
    } catch {
      return null;
    }
  }

  function endSession(notice) {
    sessionStorage.removeItem(SESSION);
    clearTimeout(expiryTimer);
    tenant = null;
    generation += 1;
    showSignIn(notice);
  }

  function armExpiry(s) {
    clearTimeout(expiryTimer);
    const ms = Date.parse(s.expires_at) - Date.now();
    expiryTimer = setTimeout(() => endSession("Your session ended (sessions last 30 minutes). Sign in again."),
      Math.max(0, Math.min(ms, 2 ** 31 - 1)));
  }

  async function api(method, path, body) {
    const s = session();
    if (!s) {
      endSession("Your session ended. Sign in again.");
      throw new SessionEnded();
    }
    const init = { method, cache: "no-store", headers: { authorization: `Bearer ${s.token}`, accept: "application/json" } };
    if (body !== undefined) {
      init.headers["content-type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch {
      throw new ApiError(0, { message: "Graphhook could not be reached. Check your connection and try again." });
    }
    if (response.status === 401) {
      endSession("Your session ended. Sign in again.");
      throw new SessionEnded();
    }
    const text = await response.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    if (response.status === 403 && json?.details?.tenant_status && path !== "/api/v1/tenant") loadTenant().catch(() => null);
    if (!response.ok) throw new ApiError(response.status, json || { message: `The request failed (HTTP ${response.status}).` });
    return json;
  }

  /** Every page of a list (oldest first), up to `maxPages` of 200. */
  async function listAll(path, params = {}, maxPages = 10) {
    const data = [];
    let cursor = null;
    for (let page = 1; ; page += 1) {
      const q = new URLSearchParams(Object.entries(params).filter(([, v]) => v));
      q.set("limit", "200");
      if (cursor) q.set("cursor", cursor);
      const answer = await api("GET", `${path}?${q}`);
      data.push(...answer.data);
      if (!answer.next_cursor) return { data, truncated: false };
      if (page >= maxPages) return { data, truncated: true };
      cursor = answer.next_cursor;
    }
  }

  function sinceOf(window) {
    const found = WINDOWS.find(([k]) => k === window) || WINDOWS[1];
    return new Date(Date.now() - found[2]).toISOString();
  }

  async function loadTenant() {
    tenant = await api("GET", "/api/v1/tenant");
    $("who-name").textContent = tenant.name;
    $("who-status").replaceWith(Object.assign(badge(tenant.status), { id: "who-status" }));
    const banner = $("banner");
    banner.replaceChildren();
    if (tenant.status === "consent_revoked") {
      banner.append(h("div", { class: "alert banner" }, h("h2", {}, "Consent was revoked"),
        h("p", {}, "Microsoft no longer lets Graphhook act for this tenant, so its subscriptions are paused and changes " +
          "are refused. An administrator must consent again: "), h("a", { href: "/onboarding" }, "Connect Microsoft 365 again")));
    } else if (tenant.status !== "active") {
      banner.append(h("div", { class: "alert banner" }, h("p", {}, `This tenant is ${tenant.status.replaceAll("_", " ")}`,
        tenant.status_reason ? `: ${tenant.status_reason}` : ".")));
    }
    return tenant;
  }

  async function endpointsById() {
    const { data } = await listAll("/api/v1/endpoints", {}, 5);
    return new Map(data.map((e) => [e.id, e]));
  }

  function endpointName(map, id) {
    const e = map.get(id);
    return e ? (e.description || e.url) : id;
  }

  // ---- Sign-in -------------------------------------------------------------------------------

  function showSignIn(notice) {
    $("who").hidden = true;
    $("portal-nav").hidden = true;
    $("banner").replaceChildren();
    $("status").replaceChildren();
    $("alert").replaceChildren();
    const input = h("input", { type: "password", id: "api-key-input", name: "api_key", required: true,
      autocomplete: "off", spellcheck: "false" });
    const button = h("button", { type: "submit" }, "Sign in");
    const form = h("form", { class: "card", novalidate: true },
      notice ? h("p", { class: "note", role: "status" }, notice) : null,
      field("API key", input, "The ghk_… key your administrator was shown after connecting Microsoft 365, or one " +
        "created with the api. It is exchanged for a 30-minute session and not kept in the browser."),
      button);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const key = input.value.trim();
      if (!key) return fail(new Error("Enter your API key."));
      await busy(button, "Signing in…", async () => {
        const response = await fetch("/portal/session", { method: "POST", cache: "no-store",
          headers: { "content-type": "application/json" }, body: JSON.stringify({ api_key: key }) });
        const body = await response.json().catch(() => null);
        if (!response.ok) throw new ApiError(response.status, body || { message: `Sign-in failed (HTTP ${response.status}).` });
        input.value = "";
        sessionStorage.setItem(SESSION, JSON.stringify({ token: body.token, expires_at: body.expires_at }));
        await start();
      });
    });
    $("main").replaceChildren(h("h1", { tabindex: "-1" }, "Sign in to the tenant portal"),
      h("p", { class: "lead" }, "Register your webhook endpoints, choose what to watch in Microsoft 365, and follow every delivery."),
      form, h("p", { class: "help" }, "No key yet? An administrator connects the tenant first: ",
        h("a", { href: "/onboarding" }, "Connect Microsoft 365"), "."));
    document.title = "Graphhook portal";
    input.focus();
  }

  async function start() {
    const s = session();
    if (!s) return showSignIn();
    armExpiry(s);
    $("who").hidden = false;
    $("portal-nav").hidden = false;
    try {
      await loadTenant();
    } catch (error) {
      fail(error);
    }
    if (!session()) return undefined;
    if (!location.hash.startsWith("#/")) history.replaceState(null, "", "#/endpoints");
    return render({ focus: true });
  }

  // ---- Routing -------------------------------------------------------------------------------

  function route() {
    const [path, query] = location.hash.replace(/^#\/?/, "").split("?");
    const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
    return { name: parts[0] || "endpoints", id: parts[1], query: new URLSearchParams(query || "") };
  }

  function refresh() {
    return render({ focus: false });
  }

  async function render({ focus }) {
    if (!session()) return endSession("Your session ended. Sign in again.");
    const my = ++generation;
    const r = route();
    const view = VIEWS[r.name] || VIEWS.endpoints;
    for (const a of document.querySelectorAll("#portal-nav a")) {
      if (a.dataset.route === r.name) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
    const focused = document.activeElement?.id;
    const main = $("main");
    if (focus) main.replaceChildren(h("p", { class: "muted" }, "Loading…"));
    let nodes;
    try {
      nodes = await view(r);
    } catch (error) {
      if (my !== generation) return undefined;
      fail(error);
      nodes = [heading("Could not load this page", refreshButton())];
    }
    if (my !== generation) return undefined;
    nodes = nodes.flat(Infinity).filter(Boolean);
    if (flash) nodes.splice(nodes.findIndex((n) => n.classList?.contains("page-head")) + 1, 0, flash);
    flash = null;
    main.replaceChildren(...nodes);
    document.title = `${main.querySelector("h1")?.textContent || "Portal"} — Graphhook portal`;
    if (focus) main.querySelector("h1")?.focus();
    else if (focused && $(focused)) $(focused).focus();
    return undefined;
  }

  // ---- Endpoints -----------------------------------------------------------------------------

  async function viewEndpoints({ id }) {
    if (id) return viewEndpoint(id);
    const [{ data: endpoints }, { data: events }] = await Promise.all([
      listAll("/api/v1/endpoints", {}, 5),
      listAll("/api/v1/events", { since: sinceOf("24h") }, 5),
    ]);
    const health = await Promise.all(endpoints.slice(0, 50).map((e) =>
      api("GET", `/api/v1/endpoints/${encodeURIComponent(e.id)}/health`).catch(() => null)));
    const trouble = events.filter(isTrouble);
    const byId = new Map(endpoints.map((e) => [e.id, e]));
    const attention = [];
    endpoints.forEach((e, i) => {
      if (e.status === "disabled") attention.push(`${e.url} is disabled (${(e.disabled_reason || "").replaceAll("_", " ")}): it receives nothing.`);
      if (health[i]?.circuit === "open") attention.push(`${e.url}: circuit open, deliveries wait until ${new Date(health[i].circuit_until).toLocaleString()}.`);
    });
    const rows = endpoints.map((e, i) => h("tr", {},
      h("th", { scope: "row" }, h("code", { class: "url" }, e.url), e.description ? h("div", { class: "muted" }, e.description) : null),
      h("td", {}, badge(e.status), e.disabled_reason ? h("div", { class: "muted" }, e.disabled_reason.replaceAll("_", " ")) : null,
        e.verification_error ? h("div", { class: "error-text" }, e.verification_error) : null),
      h("td", {}, health[i] ? badge(health[i].circuit) : h("span", { class: "muted" }, "unknown")),
      h("td", {}, e.filter_types.length ? e.filter_types.map((t) => h("code", { class: "tag" }, t)) : h("span", { class: "muted" }, "every event")),
      h("td", {}, h("a", { href: `#/endpoints/${encodeURIComponent(e.id)}`, class: "button-link", "aria-label": `Manage ${e.url}` }, "Manage"))));
    return [
      heading("Endpoints", refreshButton()),
      attention.length || trouble.length ? h("section", { class: "alert attention", "aria-labelledby": "ep-attention" },
        h("h2", { id: "ep-attention" }, "Needs attention"),
        h("ul", {}, attention.map((t) => h("li", {}, t)),
          trouble.slice(-5).reverse().map((e) => h("li", {}, h("strong", {}, e.event_type), " ",
            e.endpoint_id ? endpointName(byId, e.endpoint_id) : "", " — ", time(e.created_at)))),
        h("p", {}, h("a", { href: "#/events" }, "All operational events"))) : null,
      table("!Your endpoints", ["Endpoint", "Status", "Circuit", "Receives", ""], rows,
        "No endpoints yet. Register one below: it must answer Graphhook's verification challenge."),
      endpointForm(),
    ];
  }

  function endpointForm(existing) {
    const e = existing || {};
    const prefix = existing ? "edit" : "ep";
    const url = h("input", { type: "url", id: `${prefix}-url`, required: true, value: e.url || "", placeholder: "https://hooks.example.com/graphhook" });
    const description = h("input", { type: "text", id: `${prefix}-description`, maxlength: "500", value: e.description || "" });
    const filters = chipInput(`${prefix}-filters`, "Event types", e.filter_types);
    const headers = h("textarea", { id: `${prefix}-headers`, rows: "3", spellcheck: "false" },
      Object.entries(e.headers || {}).map(([k, v]) => `${k}: ${v}`).join("\n"));
    const timeout = h("input", { type: "number", id: `${prefix}-timeout`, min: "1", max: "30", value: e.timeout_secs || "" });
    const rate = h("input", { type: "number", id: `${prefix}-rate`, min: "1", value: e.rate_limit_per_sec || "" });
    const inflight = h("input", { type: "number", id: `${prefix}-inflight`, min: "1", value: existing ? e.max_in_flight : "" });
    const ed25519 = existing ? null : h("input", { type: "checkbox", id: "ep-ed25519" });
    const button = h("button", { type: "submit" }, existing ? "Save changes" : "Register endpoint");
    const form = h("form", { class: "panel", novalidate: true, "aria-labelledby": `${prefix}-title` },
      h("h2", { id: `${prefix}-title` }, existing ? "Change this endpoint" : "Register an endpoint"),
      field("Endpoint URL", url, existing ? "A new URL is verified again before anything else is sent to it."
        : "Graphhook POSTs a signed verification challenge to it at once; it must answer with the challenge."),
      field("Description (optional)", description),
      filters.el,
      h("details", {}, h("summary", {}, "More options"),
        field("Custom headers (optional)", headers, "One per line, Name: value. Hop-by-hop, content and webhook-* headers are refused."),
        h("div", { class: "grid3" }, field("Timeout (seconds, 1–30)", timeout), field("Rate limit (requests/s)", rate),
          field("Most requests in flight", inflight)),
        ed25519 ? h("div", { class: "field check" }, ed25519, h("label", { for: "ep-ed25519" }, "Also sign with Ed25519 (v1a)")) : null),
      button);
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      busy(button, existing ? "Saving…" : "Registering and verifying…", async () => {
        if (!url.value.trim()) throw new Error("Enter the endpoint's URL.");
        const body = { url: url.value.trim(), description: description.value.trim(), filter_types: filters.values(),
          headers: parseHeaders(headers.value) };
        if (timeout.value) body.timeout_secs = Number(timeout.value);
        if (rate.value) body.rate_limit_per_sec = Number(rate.value);
        else if (existing && e.rate_limit_per_sec) body.rate_limit_per_sec = null;
        if (inflight.value) body.max_in_flight = Number(inflight.value);
        if (existing) {
          if (body.url === e.url) delete body.url;
          const saved = await api("PATCH", `/api/v1/endpoints/${encodeURIComponent(e.id)}`, body);
          say(`Saved. The endpoint is ${saved.status.replaceAll("_", " ")}.`);
          return refresh();
        }
        if (ed25519.checked) body.ed25519 = true;
        const created = await api("POST", "/api/v1/endpoints", body);
        flash = h("section", { class: "note result", "aria-labelledby": "created-title" },
          h("h2", { id: "created-title" }, "Endpoint registered"),
          h("p", {}, h("code", { class: "url" }, created.url), " is ", badge(created.status),
            created.verification_error ? ` — ${created.verification_error}` : ""),
          secretBox("Signing secret", created.secret));
        say(created.status === "active" ? "Endpoint registered and verified."
          : "Endpoint registered, but it did not answer the verification challenge yet.");
        return refresh();
      });
    });
    return form;
  }

  function secretBox(label, secret) {
    return h("div", {}, h("p", {}, h("strong", {}, label), " — shown once: store it now, it verifies our signatures."),
      h("code", { class: "secret", id: "new-secret" }, secret));
  }

  async function viewEndpoint(id) {
    const path = `/api/v1/endpoints/${encodeURIComponent(id)}`;
    const [e, health, { data: events }] = await Promise.all([
      api("GET", path), api("GET", `${path}/health`).catch(() => null),
      listAll("/api/v1/events", { endpoint_id: id, since: sinceOf("7d") }, 2),
    ]);
    const act = (label, doing, fn, cls = "secondary", btnId = undefined) => {
      const b = h("button", { type: "button", class: cls, id: btnId });
      b.textContent = label;
      b.addEventListener("click", () => busy(b, doing, fn));
      return b;
    };
    const grace = select("rotate-grace", [["86400", "24 hours (default)"], ["0", "none: stop at once"], ["3600", "1 hour"],
      ["604800", "7 days"]], "86400");
    const since = h("input", { type: "datetime-local", id: "recover-since",
      value: new Date(Date.now() - 864e5 - new Date().getTimezoneOffset() * 6e4).toISOString().slice(0, 16) });
    const recoverButton = h("button", { type: "submit", class: "secondary" }, "Recover failed deliveries");
    const recover = h("form", { class: "inline-form" }, field("Failed and exhausted deliveries since", since), recoverButton);
    recover.addEventListener("submit", (ev) => {
      ev.preventDefault();
      busy(recoverButton, "Queuing…", async () => {
        const r = await api("POST", `${path}/recover`, { since: new Date(since.value).toISOString() });
        say(`${r.recovered} deliveries queued again (recovery attempts, same webhook-id).`);
      });
    });
    const resultSlot = h("div", { id: "action-result" });
    return [
      h("p", {}, h("a", { href: "#/endpoints" }, "← All endpoints")),
      heading("Endpoint", refreshButton()),
      h("p", {}, h("code", { class: "url big" }, e.url), " ", badge(e.status)),
      e.status === "disabled" ? h("p", { class: "alert" }, `Disabled (${(e.disabled_reason || "").replaceAll("_", " ")}): it receives nothing until it is enabled again.`) : null,
      e.verification_error ? h("p", { class: "alert" }, `Verification failed: ${e.verification_error}`) : null,
      health?.circuit === "open" ? h("p", { class: "alert" }, "Circuit open: deliveries wait until ", time(health.circuit_until), " without spending retries.") : null,
      h("div", { class: "actions bar" },
        act("Verify again", "Verifying…", async () => {
          const r = await api("POST", `${path}/verify`);
          say(r.status === "active" ? "Verified: the endpoint answered the challenge." : `Not verified: ${r.verification_error || r.status}`);
          return refresh();
        }, "secondary", "ep-verify"),
        act("Send a test event", "Sending…", async () => {
          const r = await api("POST", `${path}/test`);
          flash = h("section", { class: r.delivered ? "note result" : "alert result" }, h("h2", {}, r.delivered ? "Test delivered" : "Test failed"),
            props([["Message", h("code", {}, r.message_id)], ["Status", r.status ?? "no response"], ["Duration", `${r.duration_ms} ms`],
              r.error ? ["Error", `${r.error.class}: ${r.error.message}`] : null,
              ["Response", h("pre", { class: "excerpt" }, r.response_body || "(empty)")]]));
          say(r.delivered ? "The test event was delivered." : "The test event was not delivered; it will be retried.");
          return refresh();
        }, "secondary", "ep-test"),
        act(e.status === "disabled" ? "Enable" : "Disable", "Saving…", async () => {
          const r = await api("PATCH", path, { enabled: e.status === "disabled" });
          say(`The endpoint is ${r.status.replaceAll("_", " ")}.`);
          return refresh();
        }, "secondary", "ep-toggle"),
        act("Show current secret", "Reading…", async () => {
          const r = await api("GET", `${path}/secret`);
          resultSlot.replaceChildren(h("p", {}, h("strong", {}, "Current signing secret")), h("code", { class: "secret" }, r.secret));
        }, "secondary", "ep-secret"),
        confirmButton("Delete endpoint", "Delete it? Its history stays. ", "Yes, delete", async () => {
          await api("DELETE", path);
          afterNavigation = "Endpoint deleted.";
          location.hash = "#/endpoints";
        }, "ep-delete")),
      resultSlot,
      h("section", { class: "panel", "aria-labelledby": "rotate-title" }, h("h2", { id: "rotate-title" }, "Rotate the signing secret"),
        h("div", { class: "inline-form" }, field("Old secret keeps signing for", grace),
          act("Rotate secret", "Rotating…", async () => {
            const r = await api("POST", `${path}/secret/rotate`, { grace_period_secs: Number(grace.value) });
            resultSlot.replaceChildren(h("section", { class: "note result" }, secretBox("New signing secret", r.secret),
              h("p", {}, "Old secrets sign too until ", time(r.old_secrets_expire_at), ".")));
            say("Secret rotated.");
          }, "secondary", "ep-rotate"))),
      h("section", { "aria-labelledby": "details-title" }, h("h2", { id: "details-title" }, "Details"), props([
        ["Id", h("code", {}, e.id)], ["Description", e.description || "—"],
        ["Receives", e.filter_types.length ? e.filter_types.map((t) => h("code", { class: "tag" }, t)) : "every event type"],
        ["Custom headers", Object.keys(e.headers).length ? Object.keys(e.headers).join(", ") : "none"],
        ["Timeout", `${e.timeout_secs} s`], ["Rate limit", e.rate_limit_per_sec ? `${e.rate_limit_per_sec}/s` : "none"],
        ["Verified", time(e.verified_at)], ["Created", time(e.created_at)], ["Updated", time(e.updated_at)],
        e.ed25519_public_key ? ["Ed25519 public key", h("code", { class: "url" }, e.ed25519_public_key)] : null,
      ])),
      h("section", { "aria-labelledby": "health-title" }, h("h2", { id: "health-title" }, "Health"), health ? props([
        ["Circuit", [badge(health.circuit), health.circuit_until ? [" until ", time(health.circuit_until)] : ""]],
        ["In flight", `${health.in_flight} of at most ${health.max_in_flight}`],
        ["Failing since", health.failing_since ? time(health.failing_since) : "not failing"],
      ]) : h("p", { class: "muted" }, "Health is not available right now.")),
      h("section", { class: "panel", "aria-labelledby": "recover-title" }, h("h2", { id: "recover-title" }, "Deliver failed messages again"),
        h("p", { class: "help" }, "Everything this endpoint failed to take since then is sent again with its original webhook-id."), recover),
      h("section", { "aria-labelledby": "ep-events" }, h("h2", { id: "ep-events" }, "Operational events, last 7 days"),
        eventsTable(events.slice(-20).reverse(), new Map([[e.id, e]])),
        h("p", {}, h("a", { href: `#/events?endpoint_id=${encodeURIComponent(e.id)}` }, "All events for this endpoint"))),
      endpointForm(e),
    ];
  }

  // ---- Subscriptions -------------------------------------------------------------------------

  async function viewSubscriptions() {
    const [{ data: subs }, endpoints] = await Promise.all([listAll("/api/v1/subscriptions", {}, 5), endpointsById()]);
    const rows = [];
    for (const s of subs) {
      const sid = encodeURIComponent(s.id);
      const historyRow = h("tr", { class: "history", hidden: true }, h("td", { colspan: "8" }));
      const toggle = h("button", { type: "button", class: "secondary small", "aria-expanded": "false", id: `hist-${s.id}` }, "History");
      toggle.addEventListener("click", () => busy(toggle, "Loading…", async () => {
        const open = toggle.getAttribute("aria-expanded") !== "true";
        if (open) {
          const { data } = await listAll(`/api/v1/subscriptions/${sid}/actions`, {}, 5);
          historyRow.firstChild.replaceChildren(table(`Lifecycle history of ${s.resource}`, ["When", "Action", "Asked by", "Outcome", "Graph id", "Detail"],
            data.map((a) => h("tr", {}, h("td", {}, time(a.created_at)), h("td", {}, a.action), h("td", {}, a.trigger.replaceAll("_", " ")),
              h("td", {}, badge(a.outcome)), h("td", {}, h("code", { class: "url" }, a.graph_subscription_id || "—")), h("td", {}, a.detail || ""))),
            "Nothing has happened to it yet."));
        }
        historyRow.hidden = !open;
        toggle.setAttribute("aria-expanded", String(open));
      }));
      rows.push(h("tr", {},
        h("th", { scope: "row" }, h("code", { class: "url" }, s.resource), h("div", { class: "muted" }, s.kind.replaceAll("_", " "),
          s.include_resource_data ? " · with resource data" : "",
          s.endpoint_ids ? ` · to ${s.endpoint_ids.map((e) => endpointName(endpoints, e)).join(", ")}` : "")),
        h("td", {}, s.change_types.join(", ")),
        h("td", {}, badge(s.status)),
        h("td", {}, time(s.expires_at)),
        h("td", {}, time(s.renews_at)),
        h("td", {}, s.pending_action ? badge(s.pending_action, "warn") : h("span", { class: "muted" }, "none")),
        h("td", {}, s.last_error ? h("span", { class: "error-text" }, s.last_error) : h("span", { class: "muted" }, "—")),
        h("td", { class: "actions" }, toggle, confirmButton("Delete", "Delete at Graph too? ", "Yes, delete", async () => {
          await api("DELETE", `/api/v1/subscriptions/${sid}`);
          say(`Subscription for ${s.resource} deleted.`);
          return refresh();
        }, `del-${s.id}`, "small"))), historyRow);
    }
    return [
      heading("Subscriptions", refreshButton()),
      h("p", { class: "lead" }, "Graphhook renews these well before Microsoft Graph lets them expire, and repairs them when Graph asks."),
      table("!Your subscriptions", ["Resource", "Change types", "Status", "Expires", "Next renewal", "Pending action", "Last error", ""],
        rows, "No subscriptions yet: create one below."),
      subscriptionForm([...endpoints.values()]),
    ];
  }

  function subscriptionForm(endpoints) {
    const kind = select("sub-kind", KINDS.map((k) => [k.kind, `${k.label} (${k.kind})`]), "user");
    const resource = h("input", { type: "text", id: "sub-resource", required: true, spellcheck: "false" });
    const patterns = h("div", { class: "patterns", id: "sub-patterns" });
    const changes = h("fieldset", { class: "checks" });
    const rich = h("input", { type: "checkbox", id: "sub-rich" });
    const richHelp = h("p", { class: "help", id: "sub-rich-help" });
    rich.setAttribute("aria-describedby", "sub-rich-help");
    const targets = h("fieldset", { class: "checks" }, h("legend", {}, "Deliver to (optional)"),
      endpoints.length ? endpoints.map((e) => h("label", { class: "check" }, h("input", { type: "checkbox", value: e.id }), ` ${e.description || e.url}`))
        : h("p", { class: "help" }, "No endpoints yet."),
      h("p", { class: "help" }, "None chosen: every endpoint whose event filter matches."));
    function prefill() {
      const spec = KINDS.find((k) => k.kind === kind.value);
      resource.value = spec.paths[0];
      fill(patterns, h("span", { class: "help" }, "Patterns: "), spec.paths.map((p) => h("button", {
        type: "button", class: "link-button", "aria-label": `Use ${p}`,
        onclick: () => { resource.value = p; resource.focus(); const at = p.indexOf("{id}"); if (at >= 0) resource.setSelectionRange(at, at + 4); },
      }, h("code", {}, p))), h("span", { class: "help" }, ` Needs ${spec.permission}. Replace {id} with the user, folder, group or drive id.`));
      fill(changes, h("legend", {}, "Change types"), spec.changes.map((c) =>
        h("label", { class: "check" }, h("input", { type: "checkbox", value: c, checked: true }), ` ${c}`)));
      rich.disabled = !spec.rich;
      rich.checked = false;
      richHelp.textContent = spec.rich ? "Notifications carry the changed item itself (encrypted in transit); such a subscription lives at most a day."
        : "Not available for this kind.";
    }
    kind.addEventListener("change", prefill);
    prefill();
    const button = h("button", { type: "submit" }, "Create subscription");
    const form = h("form", { class: "panel", novalidate: true, "aria-labelledby": "sub-title" },
      h("h2", { id: "sub-title" }, "Create a subscription"),
      field("Resource kind", kind), field("Resource", resource), patterns, changes,
      h("div", { class: "field check" }, rich, h("label", { for: "sub-rich" }, "Include resource data"), richHelp),
      targets, button);
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      busy(button, "Creating at Microsoft Graph…", async () => {
        const changeTypes = [...changes.querySelectorAll("input:checked")].map((i) => i.value);
        if (!resource.value.trim()) throw new Error("Enter the resource.");
        if (!changeTypes.length) throw new Error("Choose at least one change type.");
        const body = { resource: resource.value.trim(), change_types: changeTypes };
        if (rich.checked) body.include_resource_data = true;
        const chosen = [...targets.querySelectorAll("input:checked")].map((i) => i.value);
        if (chosen.length) body.endpoint_ids = chosen;
        const s = await api("POST", "/api/v1/subscriptions", body);
        say(`Subscription for ${s.resource} is ${s.status}; it expires ${new Date(s.expires_at).toLocaleString()} unless renewed.`);
        return refresh();
      });
    });
    return form;
  }

  // ---- Messages ------------------------------------------------------------------------------

  function filterForm(route, fields) {
    const button = h("button", { type: "submit", class: "secondary" }, "Apply filters");
    const form = h("form", { class: "filters", role: "search", "aria-label": "Filters" }, fields.map(([label, input]) => field(label, input)), button);
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const q = new URLSearchParams();
      for (const [, input] of fields) if (input.value) q.set(input.id.replace(/^q-/, ""), input.value.trim());
      const next = `#/${route}${q.toString() ? `?${q}` : ""}`;
      if (location.hash === next) refresh();
      else location.hash = next;
    });
    return form;
  }

  function windowSelect(q) {
    return select("q-window", WINDOWS.map(([k, label]) => [k, label]), q.get("window") || "24h");
  }

  function endpointSelect(q, endpoints) {
    return select("q-endpoint_id", [["", "Any endpoint"], ...[...endpoints.values()].map((e) => [e.id, e.description || e.url])],
      q.get("endpoint_id") || "");
  }

  async function viewMessages({ id, query: q }) {
    if (id) return viewMessage(id);
    const since = sinceOf(q.get("window"));
    const eventType = q.get("event_type") || "";
    const endpointId = q.get("endpoint_id") || "";
    const status = q.get("status") || "";
    const [messages, deliveries, endpoints] = await Promise.all([
      listAll("/api/v1/messages", { since, event_type: eventType }),
      listAll("/api/v1/deliveries", { since, event_type: eventType, endpoint_id: endpointId, status }),
      endpointsById(),
    ]);
    const byMessage = new Map();
    for (const d of deliveries.data) byMessage.set(d.message_id, [...(byMessage.get(d.message_id) || []), d]);
    let shown = messages.data;
    if (endpointId || status) shown = shown.filter((m) => byMessage.has(m.id));
    shown = shown.slice().reverse();
    const eventInput = h("input", { type: "text", id: "q-event_type", list: "q-event-types", value: eventType, spellcheck: "false" });
    const rows = shown.map((m) => h("tr", {},
      h("td", {}, time(m.created_at)),
      h("th", { scope: "row" }, h("code", {}, m.event_type)),
      h("td", {}, h("code", { class: "url" }, m.id)),
      h("td", {}, (byMessage.get(m.id) || []).map((d) => h("div", {}, badge(d.status === "failed" ? "failed_retrying" : d.status),
        ` ${endpointName(endpoints, d.endpoint_id)} · ${d.attempt_count} attempt${d.attempt_count === 1 ? "" : "s"}`)),
      byMessage.has(m.id) ? "" : h("span", { class: "muted" }, "no delivery")),
      h("td", {}, h("a", { href: `#/messages/${encodeURIComponent(m.id)}`, class: "button-link", "aria-label": `Open ${m.event_type} message ${m.id}` }, "Open"))));
    return [
      heading("Messages", refreshButton()),
      h("p", { class: "lead" }, "Every event sent to your endpoints, newest first, with what each delivery did."),
      filterForm("messages", [["Event type", eventInput], ["Endpoint", endpointSelect(q, endpoints)],
        ["Delivery status", select("q-status", [["", "Any status"], ["pending", "pending"], ["delivered", "delivered"],
          ["failed", "failed (will retry)"], ["exhausted", "exhausted"]], status)], ["Period", windowSelect(q)]]),
      h("datalist", { id: "q-event-types" }, CATALOGUE.map((t) => h("option", { value: t }))),
      messages.truncated || deliveries.truncated ? h("p", { class: "note" }, "Only the oldest 2,000 of this period are listed: choose a shorter period or a filter.") : null,
      table(`!Messages (${shown.length})`, ["Created", "Event type", "Message id", "Deliveries", ""], rows, "No messages in this period."),
    ];
  }

  async function viewMessage(id) {
    const mid = encodeURIComponent(id);
    const [message, { data: deliveries }, endpoints] = await Promise.all([
      api("GET", `/api/v1/messages/${mid}`), listAll("/api/v1/deliveries", { message_id: id }, 2), endpointsById(),
    ]);
    const attempts = await Promise.all(deliveries.map((d) => listAll(`/api/v1/deliveries/${encodeURIComponent(d.id)}/attempts`, {}, 2)));
    async function resend(endpointId, before) {
      const d = await api("POST", `/api/v1/messages/${mid}/resend`, { endpoint_id: endpointId });
      say("Queued: it is sent again with the same webhook-id.");
      const deadline = Date.now() + 15000;
      while (Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 700));
        const now = await api("GET", `/api/v1/deliveries?message_id=${mid}&endpoint_id=${encodeURIComponent(endpointId)}`);
        const found = now.data.find((x) => x.id === d.id);
        if (found && found.attempt_count > before && found.status !== "pending") break;
      }
      return refresh();
    }
    const sections = deliveries.map((d, i) => {
      const ep = endpoints.get(d.endpoint_id);
      const resendButton = h("button", { type: "button", class: "secondary", id: `resend-${d.id}`, disabled: ep?.status !== "active" },
        "Resend to this endpoint");
      resendButton.addEventListener("click", () => busy(resendButton, "Resending…", () => resend(d.endpoint_id, d.attempt_count)));
      return h("section", { class: "panel delivery", "aria-labelledby": `dlv-${d.id}` },
        h("h3", { id: `dlv-${d.id}` }, "To ", h("code", { class: "url" }, ep ? ep.url : d.endpoint_id), " ", badge(d.status === "failed" ? "failed_retrying" : d.status)),
        props([["Delivery", h("code", {}, d.id)], ["Attempts", String(d.attempt_count)],
          d.next_attempt_at ? ["Next attempt", time(d.next_attempt_at)] : null, d.last_error ? ["Last error", d.last_error] : null]),
        h("div", { class: "actions" }, resendButton),
        table(`Attempts to ${ep ? ep.url : d.endpoint_id}`, ["#", "When", "Trigger", "Status", "Duration", "Error", "Response"],
          attempts[i].data.map((a) => h("tr", {},
            h("th", { scope: "row" }, String(a.number)), h("td", {}, time(a.created_at)), h("td", {}, a.trigger),
            h("td", {}, a.status_code != null ? badge(String(a.status_code), a.status_code < 300 ? "ok" : "bad") : badge("no response", "bad")),
            h("td", {}, `${a.duration_ms} ms`),
            h("td", {}, a.error_class ? h("span", { class: "error-text" }, `${a.error_class}${a.error ? `: ${a.error}` : ""}`)
              : a.error ? h("span", { class: "error-text" }, a.error) : "—"),
            h("td", {}, a.response_excerpt ? h("details", {}, h("summary", {}, "Response body"), h("pre", { class: "excerpt" }, a.response_excerpt))
              : h("span", { class: "muted" }, "empty")))),
          "No attempt yet."));
    });
    const others = [...endpoints.values()].filter((e) => e.status === "active" && !deliveries.some((d) => d.endpoint_id === e.id));
    let other = null;
    if (others.length && message.payload) {
      const target = select("resend-target", others.map((e) => [e.id, e.description || e.url]));
      const b = h("button", { type: "submit", class: "secondary" }, "Send to this endpoint");
      other = h("form", { class: "panel inline-form" }, field("Send it to another endpoint", target), b);
      other.addEventListener("submit", (ev) => { ev.preventDefault(); busy(b, "Sending…", () => resend(target.value, 0)); });
    }
    return [
      h("p", {}, h("a", { href: "#/messages" }, "← All messages")),
      heading(message.event_type, refreshButton()),
      props([["Message id (webhook-id)", h("code", {}, message.id)], ["Created", time(message.created_at)]]),
      h("section", { "aria-labelledby": "payload-title" }, h("h2", { id: "payload-title" }, "Payload"),
        message.payload ? h("pre", { class: "payload", tabindex: "0", "aria-label": "Payload JSON" }, JSON.stringify(message.payload, null, 2))
          : h("p", { class: "muted" }, "Removed by retention: it can no longer be resent.")),
      h("section", { "aria-labelledby": "deliveries-title" }, h("h2", { id: "deliveries-title" }, "Deliveries"),
        sections.length ? sections : h("p", { class: "empty" }, "No endpoint was to receive it."), other),
    ];
  }

  // ---- Operational events --------------------------------------------------------------------

  function summary(data) {
    if (!data || typeof data !== "object") return "";
    const parts = [];
    for (const [k, v] of Object.entries(data)) {
      if (v === null || k === "endpointId") continue;
      if (typeof v !== "object") parts.push(`${k}: ${v}`);
      else if (k === "lastAttempt") parts.push(`last attempt: ${v.statusCode ?? "no response"}${v.error ? ` (${v.error})` : ""}`);
    }
    return parts.slice(0, 8).join(" · ");
  }

  function eventsTable(events, endpoints) {
    return table("!Operational events", ["When", "Event", "Endpoint", "What happened", "Published"], events.map((e) => h("tr", { class: isTrouble(e) ? "trouble" : "" },
      h("td", {}, time(e.created_at)),
      h("th", { scope: "row" }, isTrouble(e) ? badge("attention", "bad") : null, " ", h("code", {}, e.event_type)),
      h("td", {}, e.endpoint_id ? h("a", { href: `#/endpoints/${encodeURIComponent(e.endpoint_id)}` }, endpointName(endpoints, e.endpoint_id)) : "—"),
      h("td", {}, summary(e.payload?.data), h("details", {}, h("summary", {}, "Payload"), h("pre", { class: "excerpt" }, JSON.stringify(e.payload, null, 2)))),
      h("td", {}, e.published_at ? time(e.published_at) : h("span", { class: "muted" }, "not yet")))), "No operational events in this period.");
  }

  async function viewEvents({ query: q }) {
    const eventType = q.get("event_type") || "";
    const endpointId = q.get("endpoint_id") || "";
    const [events, endpoints] = await Promise.all([
      listAll("/api/v1/events", { since: sinceOf(q.get("window")), event_type: eventType, endpoint_id: endpointId }),
      endpointsById(),
    ]);
    const list = events.data.slice().reverse();
    const trouble = list.filter(isTrouble);
    return [
      heading("Operational events", refreshButton()),
      h("p", { class: "lead" }, "Endpoint changes and health, and delivery trouble. They are recorded here even when the endpoint they are about cannot receive them."),
      trouble.length ? h("section", { class: "alert attention", "aria-labelledby": "ev-attention" },
        h("h2", { id: "ev-attention" }, `${trouble.length} event${trouble.length === 1 ? "" : "s"} need attention`),
        h("ul", {}, trouble.slice(0, 10).map((e) => h("li", {}, h("strong", {}, e.event_type), " — ",
          e.endpoint_id ? endpointName(endpoints, e.endpoint_id) : "", " — ", time(e.created_at), h("div", {}, summary(e.payload?.data)))))) : null,
      filterForm("events", [["Event type", select("q-event_type", [["", "Any event type"], ...OPERATIONAL.map((t) => [t, t])], eventType)],
        ["Endpoint", endpointSelect(q, endpoints)], ["Period", windowSelect(q)]]),
      events.truncated ? h("p", { class: "note" }, "Only the oldest 2,000 of this period are listed: choose a shorter period or a filter.") : null,
      eventsTable(list, endpoints),
    ];
  }

  // ---- Tenant --------------------------------------------------------------------------------

  async function viewTenant() {
    const t = await loadTenant();
    const s = session();
    const verify = h("button", { type: "button", class: "secondary", id: "tenant-verify" }, "Check consent with Microsoft now");
    verify.addEventListener("click", () => busy(verify, "Checking…", async () => {
      try {
        await api("POST", "/api/v1/tenant/verify");
        say("Consent checked with Microsoft: it is in place.");
      } finally {
        await refresh();
      }
    }));
    return [
      heading(t.name, refreshButton()),
      props([["Status", [badge(t.status), t.status_reason ? ` — ${t.status_reason}` : ""]], ["Tenant id", h("code", {}, t.id)],
        ["Microsoft tenant id", h("code", {}, t.entra_tenant_id)], ["Connected", time(t.created_at)],
        ["Consent granted", t.consent ? time(t.consent.granted_at) : "no consent recorded"],
        ["Session ends", s ? time(s.expires_at) : "—"]]),
      h("section", { "aria-labelledby": "roles-title" }, h("h2", { id: "roles-title" }, "Permissions"),
        t.consent?.granted_roles?.length ? h("ul", { class: "roles" }, t.consent.granted_roles.map((r) => h("li", {}, h("code", {}, r))))
          : h("p", { class: "muted" }, "None granted."),
        t.missing_roles.length ? h("div", { class: "alert" }, h("p", {}, "Not granted, so resources needing them are refused: ",
          t.missing_roles.join(", "), ". An administrator can grant them: "), h("a", { href: "/onboarding" }, "Connect Microsoft 365 again")) : null,
        h("div", { class: "actions" }, verify)),
    ];
  }

  const VIEWS = { endpoints: viewEndpoints, subscriptions: viewSubscriptions, messages: viewMessages, events: viewEvents, tenant: viewTenant };

  document.addEventListener("DOMContentLoaded", () => {
    $("sign-out").addEventListener("click", () => endSession("You are signed out."));
    window.addEventListener("hashchange", () => {
      say(afterNavigation || "");
      afterNavigation = null;
      if (session()) render({ focus: true });
    });
    start();
  });
})();
