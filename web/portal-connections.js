// The tenant portal's connections: the Microsoft users connected to the tenant, whose delegated
// tokens hold the subscriptions Graph allows only in a signed-in user's name (group
// conversations, personal OneDrive, me/…). Connecting one gives a sign-in link for its user;
// reconnecting gives a new one. Loaded after portal-endpoints.js and before
// portal-subscriptions.js, whose form offers the active connections (see portal-core.js).
"use strict";
(() => {
  const {
    state, views, h, badge, time, field, select, table, heading, refreshButton, say, busy, panelForm, confirmButton, api,
    listAll, refresh,
  } = window.GraphhookPortal;

  /** The kinds a connection may hold subscriptions to, and whether a personal account can. */
  const KINDS = [
    { kind: "conversation", label: "Group conversations", personal: false },
    { kind: "drive_item", label: "OneDrive files", personal: true },
    { kind: "message", label: "Mail messages", personal: true },
    { kind: "event", label: "Calendar events", personal: true },
    { kind: "contact", label: "Contacts", personal: true },
  ];
  const ACCOUNTS = [["work", "Work or school account"], ["personal", "Personal Microsoft account"]];
  const NEEDS_USER = "reauthorization_required";

  /** How a connection is named: its user, once signed in. */
  function who(c) {
    return c.display_name || c.username || (c.status === "pending" ? "Not signed in yet" : c.id);
  }

  function statusBadge(c) {
    return badge(c.status, c.status === NEEDS_USER ? "bad" : undefined);
  }

  /** The sign-in link a create or reconnect answered with: shown once, with a copy button. */
  function linkBox(started, title) {
    const url = h("code", { class: "secret", id: "auth-url" }, started.authorization_url);
    const copy = h("button", { type: "button", class: "secondary small", id: "auth-url-copy" }, "Copy link");
    copy.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(started.authorization_url);
        say("The sign-in link is copied.");
      } catch {
        const range = document.createRange();
        range.selectNodeContents(url);
        const selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        say("The browser did not allow copying: the link is selected, copy it with Ctrl+C (⌘C).");
      }
    });
    return h("section", { class: "note result", "aria-labelledby": "auth-title" },
      h("h2", { id: "auth-title" }, title),
      h("p", {}, "Send this link to the user who connects (", started.account === "personal" ? "a personal Microsoft account"
        : "a work or school account", "). It works once, until ", time(started.authorization_expires_at),
        "; after that, use Reconnect for a new one."),
      h("div", { class: "link-box" }, url, copy));
  }

  async function reconnect(c) {
    const started = await api("POST", `/api/v1/connections/${encodeURIComponent(c.id)}/reconnect`);
    state.flash = linkBox(started, c.status === NEEDS_USER ? `Sign-in link to restore ${who(c)}` : `New sign-in link for ${who(c)}`);
    say(c.status === NEEDS_USER ? "New sign-in link ready: its subscriptions resume once the same user signs in with it."
      : "New sign-in link ready.");
    return refresh();
  }

  function reconnectButton(c, id) {
    const again = h("button", { type: "button", class: c.status === NEEDS_USER ? "small" : "secondary small",
      id, "aria-label": `Reconnect ${who(c)}` }, "Reconnect");
    again.addEventListener("click", () => busy(again, "Working…", () => reconnect(c)));
    return again;
  }

  function actions(c) {
    return [reconnectButton(c, `reconnect-${c.id}`), confirmButton("Delete", "Delete it and every subscription made through it? ", "Yes, delete", async () => {
      await api("DELETE", `/api/v1/connections/${encodeURIComponent(c.id)}`);
      say(`Connection of ${who(c)} deleted, with its subscriptions.`);
      return refresh();
    }, `del-${c.id}`, "small")];
  }

  function scopes(c) {
    if (c.granted_scopes.length) return c.granted_scopes.map((s) => h("code", { class: "tag" }, s));
    return [h("span", { class: "muted" }, "none yet; asks for "), c.scopes.map((s) => h("code", { class: "tag" }, s))];
  }

  // ---- Connections ---------------------------------------------------------------------------

  async function viewConnections() {
    const { data: connections } = await listAll("/api/v1/connections", {}, 5);
    const trouble = connections.filter((c) => c.status === NEEDS_USER);
    const rows = connections.map((c) => h("tr", { class: c.status === NEEDS_USER ? "trouble" : null },
      h("th", { scope: "row" }, h("strong", {}, who(c)),
        c.username && c.username !== who(c) ? h("div", { class: "breakable" }, c.username) : null,
        h("div", { class: "muted breakable" }, h("code", {}, c.id))),
      h("td", {}, c.account),
      h("td", {}, statusBadge(c)),
      h("td", {}, scopes(c)),
      h("td", {}, time(c.connected_at)),
      h("td", {}, time(c.refreshed_at)),
      h("td", {}, c.last_error ? h("span", { class: "error-text breakable" }, c.last_error) : h("span", { class: "muted" }, "—")),
      h("td", {}, h("div", { class: "actions" }, actions(c)))));
    return [
      heading("Connections", refreshButton()),
      h("p", { class: "lead" }, "Microsoft users connected to this tenant. Graph allows some subscriptions only in a " +
        "signed-in user's name — group conversations, a personal OneDrive, and me/messages, me/events, me/contacts: " +
        "Graphhook holds them with the user's connection and keeps its sign-in fresh."),
      trouble.length ? h("section", { class: "alert attention", "aria-labelledby": "conn-attention" },
        h("h2", { id: "conn-attention" }, "Needs its user again"),
        h("p", {}, "Microsoft no longer accepts these users' sign-in, so their subscriptions are paused. Reconnect gives a " +
          "new link: once the same user signs in with it, the subscriptions resume."),
        h("ul", {}, trouble.map((c) => h("li", {}, h("strong", {}, who(c)), c.last_error ? `: ${c.last_error} ` : " ",
          reconnectButton(c, `attention-reconnect-${c.id}`))))) : null,
      table("!Your connections", ["User", "Account", "Status", "Granted permissions", "Connected", "Refreshed", "Last error", ""],
        rows, "No connections yet. Connect a user below to subscribe to what Graph allows only in a user's name."),
      connectionForm(),
    ];
  }

  function connectionForm() {
    const account = select("conn-account", ACCOUNTS, "work");
    const kinds = h("fieldset", { class: "checks", id: "conn-kinds" }, h("legend", {}, "What it will hold subscriptions to"),
      KINDS.map((k) => h("label", { class: "check" }, h("input", { type: "checkbox", value: k.kind }), ` ${k.label} (${k.kind})`)),
      h("p", { class: "help", id: "conn-kinds-help" }, "They decide the permissions the user is asked for."));
    const hint = h("input", { type: "text", id: "conn-hint", maxlength: "256", autocomplete: "off", spellcheck: "false",
      placeholder: "adele@contoso.onmicrosoft.com" });
    function fit() {
      const personal = account.value === "personal";
      for (const input of kinds.querySelectorAll("input")) {
        const spec = KINDS.find((k) => k.kind === input.value);
        input.disabled = personal && !spec.personal;
        if (input.disabled) input.checked = false;
      }
      kinds.querySelector(".help").textContent = personal
        ? "They decide the permissions the user is asked for. Group conversations need a work or school account."
        : "They decide the permissions the user is asked for.";
    }
    account.addEventListener("change", fit);
    fit();
    return panelForm({
      key: "conn",
      title: "Connect a user",
      fields: [
        h("p", { class: "help" }, "Graphhook makes a sign-in link for the user: they sign in with Microsoft and approve the " +
          "permissions, and the connection becomes active."),
        field("Account", account), kinds,
        field("Login hint (optional)", hint, "The user's sign-in name, to pre-fill Microsoft's sign-in page."),
      ],
      submitText: "Connect a user",
      busyText: "Connecting…",
      submit: async () => {
        const chosen = [...kinds.querySelectorAll("input:checked")].map((i) => i.value);
        if (!chosen.length) throw new Error("Choose at least one kind of resource the connection will hold.");
        const body = { account: account.value, kinds: chosen };
        if (hint.value.trim()) body.login_hint = hint.value.trim();
        const started = await api("POST", "/api/v1/connections", body);
        state.flash = linkBox(started, "Connection started: send the sign-in link");
        say("Connection pending: it becomes active once the user signs in with the link.");
        return refresh();
      },
    });
  }

  /** The tenant's connections by id, for the subscriptions page. */
  async function connectionsById() {
    const { data } = await listAll("/api/v1/connections", {}, 5);
    return new Map(data.map((c) => [c.id, c]));
  }

  Object.assign(views, { connections: viewConnections });
  Object.assign(window.GraphhookPortal, { connectionsById, connectionName: who });
})();
