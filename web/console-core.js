// The operator console: plain JavaScript against the operator api (/admin/v1) of this origin.
//
// The operator token lives in this tab's sessionStorage only and goes out as
// `Authorization: Bearer …`; a 401 from any call returns to sign-in with the server's message.
// The page's CSP allows no inline code or styles, so the DOM is built with createElement and
// textContent (never innerHTML), and charts are SVG built with createElementNS.
//
// The console is several plain scripts, loaded in order with `defer` and sharing one object,
// window.GraphhookConsole: this one (the api, the session and sign-in, routing and formatting;
// the DOM helpers shared with the portal come from common.js, loaded before it) comes first,
// then console-tables.js, console-subscriptions.js, console-tenants.js and console-operations.js,
// which add their views. The console starts once all have run (DOMContentLoaded).
"use strict";

(() => {
  const app = (window.GraphhookConsole = {});
  const { h, svg, markNav, request, Unreachable, relativeTime, parseRoute, words } = window.GraphhookWeb;
  const TOKEN_KEY = "graphhook.operatorToken";
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

  /** "in 2 days", "5 minutes ago". */
  function relative(iso) {
    const date = parseDate(iso);
    return date ? relativeTime(date, "en") : "";
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
    return h("span", { class: `badge s-${status}` }, words(status ?? "—"));
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
    let response;
    let data;
    try {
      ({ response, data } = await request(method, path, { body, token: state.token, credentials: "omit" }));
    } catch (error) {
      if (!(error instanceof Unreachable)) throw error;
      throw new ApiError(0, "network", `the server could not be reached (${error.message})`, null);
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
          " (with the deployment's settings; for ",
          h("code", null, "graphhook dev"),
          " add ",
          h("code", null, "--development"),
          ", or use the token it prints). It stays in this browser tab (session storage) and is sent only to this server.",
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
      // Proves the token (and that it is not revoked) before it is kept; the server's answer
      // names the operator.
      const me = await api("GET", "/admin/v1/me");
      if (me && typeof me.name === "string") {
        state.claims = { ...(state.claims ?? {}), sub: me.name };
      }
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
    return parseRoute(location.hash.startsWith("#/") ? location.hash.slice(2) : "");
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
    markNav(nav.querySelectorAll("a[data-view]"), "view", view);
    switch (view) {
      case "tenants":
        if (id) app.viewTenant(id);
        else app.viewTenants(params);
        break;
      case "subscriptions":
        app.viewSubscriptions(params);
        break;
      case "operations":
        app.viewOperations();
        break;
      case "audit":
        app.viewAudit(params);
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

  Object.assign(app, {
    PAGE_SIZE, main, state, h, svg, uid, announce, plural, parseDate, formatTime, time, timeInline, hourLabel,
    number, percent, millis, badge, SignedOut, api, query, describeError, errorBox, startView, live,
    replaceHash,
  });

  // ---------------------------------------------------------------- start

  // Deferred scripts all run before DOMContentLoaded: every view is there by then.
  document.addEventListener("DOMContentLoaded", () => {
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
  });
})();
