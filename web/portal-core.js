// The tenant portal: plain JavaScript over the tenant api (/api/v1/…), same origin, no build step.
// Signs in with an API key (POST /portal/session) and keeps only the short-lived session token in
// sessionStorage. Every piece of tenant data goes into the page through textContent, never markup.
//
// The portal is several plain scripts, loaded in order with `defer` and sharing one object,
// window.GraphhookPortal: this one (the session and the api, sign-in, routing; the DOM helpers
// shared with the console come from common.js, loaded before it) comes first, then
// portal-activity.js, portal-endpoints.js, portal-connections.js, portal-subscriptions.js and
// portal-tenant.js, which add their views. The portal starts once all have run (DOMContentLoaded).
"use strict";
(() => {
  const SESSION = "graphhook.portal.session";
  const TROUBLE = new Set([
    "endpoint.disabled", "endpoint.circuit_opened", "message.attempt.failing", "message.attempt.exhausted",
  ]);
  /** Whether an operational event is trouble the tenant should see first (not its own doing). */
  const isTrouble = (e) => TROUBLE.has(e.event_type) && e.payload?.data?.reason !== "by_tenant";
  // The event types come from the api's OpenAPI document, whose `webhooks` section is generated
  // from the service's own event catalogue: the portal keeps no copy. Filled before the first
  // view renders (the arrays are shared, so the views see them filled).
  const CATALOGUE = [];
  /** Operational events: what Graphhook itself records about endpoints and deliveries. */
  const OPERATIONAL = [];
  const OPERATIONAL_PREFIXES = ["endpoint.", "message.attempt."];
  /** Filter patterns: `*`, then every prefix of an event type followed by `.*`. */
  const PATTERNS = ["*"];
  async function loadCatalogue() {
    if (CATALOGUE.length) return;
    const response = await fetch("/api/openapi.json", { headers: { accept: "application/json" } });
    if (!response.ok) throw new Error(`the event catalogue could not be read (${response.status})`);
    const types = Object.keys((await response.json()).webhooks || {});
    CATALOGUE.push(...types);
    OPERATIONAL.push(...types.filter((t) => OPERATIONAL_PREFIXES.some((p) => t.startsWith(p))));
    for (const type of types) {
      const parts = type.split(".");
      for (let i = 1; i < parts.length; i += 1) {
        const pattern = `${parts.slice(0, i).join(".")}.*`;
        if (!PATTERNS.includes(pattern)) PATTERNS.push(pattern);
      }
    }
  }
  const WINDOWS = [["1h", "Last hour", 3600e3], ["24h", "Last 24 hours", 864e5], ["7d", "Last 7 days", 7 * 864e5],
    ["30d", "Last 30 days", 30 * 864e5]];
  const TONES = {
    ok: ["active", "delivered", "closed", "succeeded"],
    warn: ["pending_verification", "pending", "failed_retrying", "half_open", "creating", "requested", "paused"],
    bad: ["disabled", "exhausted", "open", "failed", "consent_revoked", "suspended", "deleted"],
  };

  const { h, fill, term, field, select, scrollable, headRow, dataTable, markNav, request, relativeTime, parseRoute, words } = window.GraphhookWeb;
  const $ = (id) => document.getElementById(id);
  let generation = 0;
  let expiryTimer = null;
  let tenant = null;
  /** What a view leaves for the next render: a result shown under the heading, a note after a navigation. */
  const state = { flash: null, afterNavigation: null };
  /** The views by route, added by the scripts after this one. */
  const VIEWS = {};

  // ---- DOM helpers ---------------------------------------------------------------------------

  function badge(text, tone) {
    const t = tone || Object.keys(TONES).find((k) => TONES[k].includes(text)) || "info";
    return h("span", { class: `badge ${t}` }, words(text));
  }

  function time(iso) {
    if (!iso) return h("span", { class: "muted" }, "—");
    const d = new Date(iso);
    const rel = relativeTime(d);
    return h("time", { datetime: iso, title: iso },
      d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" }), h("span", { class: "muted" }, ` (${rel})`));
  }

  function table(caption, headers, rows, empty) {
    if (!rows.length) return h("p", { class: "empty" }, empty);
    return dataTable(caption, headers, rows);
  }

  function props(pairs) {
    return h("dl", { class: "props" }, pairs.filter(Boolean).map(([k, v]) => term(k, v)));
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

  /**
   * A form in a panel: its `title` (an h2 whose id is `${key}-title`), its `fields`, and a submit
   * button (`submitText`) that is busy (`busyText`) while `submit()` runs.
   */
  function panelForm({ key, title, fields, submitText, busyText, submit }) {
    const button = h("button", { type: "submit" }, submitText);
    const form = h("form", { class: "panel", novalidate: true, "aria-labelledby": `${key}-title` },
      h("h2", { id: `${key}-title` }, title), fields, button);
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      busy(button, busyText, submit);
    });
    return form;
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
    let response;
    let json;
    try {
      ({ response, data: json } = await request(method, path, { body, token: s.token }));
    } catch {
      throw new ApiError(0, { message: "Graphhook could not be reached. Check your connection and try again." });
    }
    if (response.status === 401) {
      endSession("Your session ended. Sign in again.");
      throw new SessionEnded();
    }
    if (response.status === 403 && json?.details?.tenant_status && path !== "/api/v1/tenant") loadTenant().catch(() => null);
    if (!response.ok) throw new ApiError(response.status, json || { message: `The request failed (HTTP ${response.status}).` });
    return json;
  }

  /** Every page of a list, in its order (oldest first; newest first with `order: "desc"`), up to `maxPages` of 200. */
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
      banner.append(h("div", { class: "alert banner" }, h("p", {}, `This tenant is ${words(tenant.status)}`,
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
        const { response, data: body } = await request("POST", "/portal/session", { body: { api_key: key } });
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
      await Promise.all([loadTenant(), loadCatalogue()]);
    } catch (error) {
      fail(error);
    }
    if (!session()) return undefined;
    if (!location.hash.startsWith("#/")) history.replaceState(null, "", "#/endpoints");
    return render({ focus: true });
  }

  // ---- Routing -------------------------------------------------------------------------------

  function route() {
    const { parts, params } = parseRoute(location.hash.replace(/^#\/?/, ""));
    return { name: parts[0] || "endpoints", id: parts[1], query: params };
  }

  function refresh() {
    return render({ focus: false });
  }

  async function render({ focus }) {
    if (!session()) return endSession("Your session ended. Sign in again.");
    const my = ++generation;
    const r = route();
    const view = VIEWS[r.name] || VIEWS.endpoints;
    markNav(document.querySelectorAll("#portal-nav a"), "route", r.name);
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
    if (state.flash) nodes.splice(nodes.findIndex((n) => n.classList?.contains("page-head")) + 1, 0, state.flash);
    state.flash = null;
    main.replaceChildren(...nodes);
    document.title = `${main.querySelector("h1")?.textContent || "Portal"} — Graphhook portal`;
    if (focus) main.querySelector("h1")?.focus();
    else if (focused && $(focused)) $(focused).focus();
    return undefined;
  }

  window.GraphhookPortal = {
    CATALOGUE, OPERATIONAL, PATTERNS, WINDOWS, isTrouble, state, views: VIEWS, h, fill, badge, time, field,
    select, table, props, heading, refreshButton, say, busy, panelForm, confirmButton, api, listAll, sinceOf, session,
    loadTenant, endpointsById, endpointName, refresh,
  };

  document.addEventListener("DOMContentLoaded", () => {
    $("sign-out").addEventListener("click", () => endSession("You are signed out."));
    window.addEventListener("hashchange", () => {
      say(state.afterNavigation || "");
      state.afterNavigation = null;
      if (session()) render({ focus: true });
    });
    start();
  });
})();
