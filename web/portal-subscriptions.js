// The tenant portal's subscriptions: the list with each one's lifecycle history, and creating one
// (resource kinds and patterns, change types, rich data, target endpoints, the connection that
// holds it). Loaded after portal-connections.js (see portal-core.js).
"use strict";
(() => {
  const {
    views, h, fill, badge, time, field, select, table, heading, refreshButton, say, busy, panelForm, confirmButton, api,
    listAll, endpointsById, endpointName, refresh, connectionsById, connectionName,
  } = window.GraphhookPortal;
  const { words } = window.GraphhookWeb;

  // The README's table of supported resource kinds: `paths` app-only (or through a connection),
  // `delegated` only through a connection (`personal`: a personal account's).
  const KINDS = [
    { kind: "message", label: "Mail messages", rich: true, permission: "Mail.Read",
      paths: ["users/{id}/messages", "users/{id}/mailFolders('inbox')/messages", "users/{id}/mailFolders/{id}/messages"],
      delegated: ["me/messages", "me/mailFolders('inbox')/messages"], changes: ["created", "updated", "deleted"] },
    { kind: "event", label: "Calendar events", rich: true, permission: "Calendars.Read",
      paths: ["users/{id}/events"], delegated: ["me/events"], changes: ["created", "updated", "deleted"] },
    { kind: "contact", label: "Contacts", rich: true, permission: "Contacts.Read",
      paths: ["users/{id}/contacts", "users/{id}/contactFolders/{id}/contacts"], delegated: ["me/contacts"], changes: ["created", "updated", "deleted"] },
    { kind: "user", label: "Users", rich: false, permission: "User.Read.All",
      paths: ["users", "users/{id}"], changes: ["updated", "deleted"] },
    { kind: "group", label: "Groups", rich: false, permission: "Group.Read.All",
      paths: ["groups", "groups/{id}", "groups/{id}/members", "groups/{id}/owners"], changes: ["updated", "deleted"] },
    { kind: "conversation", label: "Group conversations", rich: false, permission: "Group.Read.All (delegated)",
      paths: [], delegated: ["groups/{id}/conversations"], changes: ["created", "updated", "deleted"] },
    { kind: "drive_item", label: "OneDrive and SharePoint files", rich: false, permission: "Files.ReadWrite.All",
      paths: ["drives/{id}/root", "users/{id}/drive/root", "sites/{id}/drive/root"],
      delegated: ["me/drive/root", "me/drive/items/{id}"], changes: ["updated"] },
  ];

  // ---- Subscriptions -------------------------------------------------------------------------

  async function viewSubscriptions() {
    const [{ data: subs }, endpoints, connections] = await Promise.all([listAll("/api/v1/subscriptions", {}, 5), endpointsById(),
      connectionsById().catch(() => new Map())]);
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
            data.map((a) => h("tr", {}, h("td", {}, time(a.created_at)), h("td", {}, a.action), h("td", {}, words(a.trigger)),
              h("td", {}, badge(a.outcome)), h("td", {}, h("code", { class: "url" }, a.graph_subscription_id || "—")), h("td", {}, a.detail || ""))),
            "Nothing has happened to it yet."));
        }
        historyRow.hidden = !open;
        toggle.setAttribute("aria-expanded", String(open));
      }));
      rows.push(h("tr", {},
        h("th", { scope: "row" }, h("code", { class: "url" }, s.resource), h("div", { class: "muted" }, words(s.kind),
          s.include_resource_data ? " · with resource data" : "",
          s.endpoint_ids ? ` · to ${s.endpoint_ids.map((e) => endpointName(endpoints, e)).join(", ")}` : ""),
          s.graph_resource ? h("div", { class: "muted" }, "At Graph: ", h("code", { class: "url" }, s.graph_resource)) : null,
          s.connection_id ? h("div", {}, "Through ", h("a", { href: "#/connections" },
            connections.has(s.connection_id) ? connectionName(connections.get(s.connection_id)) : s.connection_id),
          connections.get(s.connection_id)?.status === "reauthorization_required" ? [" ", badge("reauthorization_required", "bad")] : null)
            : null),
        h("td", {}, s.change_types.join(", ")),
        h("td", {}, badge(s.status)),
        h("td", {}, time(s.expires_at)),
        h("td", {}, time(s.renews_at)),
        h("td", {}, s.pending_action ? badge(s.pending_action, "warn") : h("span", { class: "muted" }, "none")),
        h("td", {}, s.last_error ? h("span", { class: "error-text breakable" }, s.last_error) : h("span", { class: "muted" }, "—")),
        h("td", {}, h("div", { class: "actions" }, toggle, confirmButton("Delete", "Delete at Graph too? ", "Yes, delete", async () => {
          await api("DELETE", `/api/v1/subscriptions/${sid}`);
          say(`Subscription for ${s.resource} deleted.`);
          return refresh();
        }, `del-${s.id}`, "small")))), historyRow);
    }
    return [
      heading("Subscriptions", refreshButton()),
      h("p", { class: "lead" }, "Graphhook renews these well before Microsoft Graph lets them expire, and repairs them when Graph asks."),
      table("!Your subscriptions", ["Resource", "Change types", "Status", "Expires", "Next renewal", "Pending action", "Last error", ""],
        rows, "No subscriptions yet: create one below."),
      subscriptionForm([...endpoints.values()], [...connections.values()].filter((c) => c.status === "active")),
    ];
  }

  function subscriptionForm(endpoints, connections) {
    const kind = select("sub-kind", KINDS.map((k) => [k.kind, `${k.label} (${k.kind})`]), "user");
    const resource = h("input", { type: "text", id: "sub-resource", required: true, spellcheck: "false" });
    const patterns = h("div", { class: "patterns", id: "sub-patterns" });
    const changes = h("fieldset", { class: "checks" });
    const through = select("sub-connection", [["", "App-only"],
      ...connections.map((c) => [c.id, `${connectionName(c)} (${c.account}${c.username && c.username !== connectionName(c) ? `, ${c.username}` : ""})`])], "");
    const throughHelp = "Needed for group conversations (groups/{id}/conversations), a personal OneDrive (me/drive/root, " +
      "me/drive/items/{folder-id}) and me/messages, me/events, me/contacts. Other resources: app-only, or through a " +
      "connection to see only what its user can.";
    const rich = h("input", { type: "checkbox", id: "sub-rich" });
    const richHelp = h("p", { class: "help", id: "sub-rich-help" });
    rich.setAttribute("aria-describedby", "sub-rich-help");
    const targets = h("fieldset", { class: "checks" }, h("legend", {}, "Deliver to (optional)"),
      endpoints.length ? endpoints.map((e) => h("label", { class: "check" }, h("input", { type: "checkbox", value: e.id }), ` ${e.description || e.url}`))
        : h("p", { class: "help" }, "No endpoints yet."),
      h("p", { class: "help" }, "None chosen: every endpoint whose event filter matches."));
    function prefill() {
      const spec = KINDS.find((k) => k.kind === kind.value);
      resource.value = spec.paths[0] || spec.delegated[0];
      if (!spec.paths.length && !through.value && connections.length) through.value = connections[0].id;
      const use = (p) => h("button", {
        type: "button", class: "link-button", "aria-label": `Use ${p}`,
        onclick: () => { resource.value = p; resource.focus(); const at = p.indexOf("{id}"); if (at >= 0) resource.setSelectionRange(at, at + 4); },
      }, h("code", {}, p));
      fill(patterns, spec.paths.length ? [h("span", { class: "help" }, "Patterns: "), spec.paths.map(use)] : null,
        spec.delegated?.length ? [h("span", { class: "help" }, spec.paths.length ? " Through a connection only: " : "Through a connection only: "),
          spec.delegated.map(use)] : null,
        h("span", { class: "help" }, ` Needs ${spec.permission}. Replace {id} with the user, folder, group or drive id.`));
      fill(changes, h("legend", {}, "Change types"), spec.changes.map((c) =>
        h("label", { class: "check" }, h("input", { type: "checkbox", value: c, checked: true }), ` ${c}`)));
      rich.disabled = !spec.rich;
      rich.checked = false;
      richHelp.textContent = spec.rich ? "Notifications carry the changed item itself (encrypted in transit); such a subscription lives at most a day."
        : "Not available for this kind.";
    }
    kind.addEventListener("change", prefill);
    prefill();
    return panelForm({
      key: "sub",
      title: "Create a subscription",
      fields: [
        field("Resource kind", kind), field("Resource", resource), patterns,
        field("Through connection", through, connections.length ? throughHelp
          : [throughHelp, " No connection is active: ", h("a", { href: "#/connections" }, "connect a user"), " first."]),
        changes,
        h("div", { class: "field check" }, rich, h("label", { for: "sub-rich" }, "Include resource data"), richHelp),
        targets,
      ],
      submitText: "Create subscription",
      busyText: "Creating at Microsoft Graph…",
      submit: async () => {
        const changeTypes = [...changes.querySelectorAll("input:checked")].map((i) => i.value);
        if (!resource.value.trim()) throw new Error("Enter the resource.");
        if (!changeTypes.length) throw new Error("Choose at least one change type.");
        const body = { resource: resource.value.trim(), change_types: changeTypes };
        if (rich.checked) body.include_resource_data = true;
        const chosen = [...targets.querySelectorAll("input:checked")].map((i) => i.value);
        if (chosen.length) body.endpoint_ids = chosen;
        if (through.value) body.connection_id = through.value;
        const s = await api("POST", "/api/v1/subscriptions", body);
        say(`Subscription for ${s.resource} is ${s.status}; it expires ${new Date(s.expires_at).toLocaleString()} unless renewed.`);
        return refresh();
      },
    });
  }

  Object.assign(views, { subscriptions: viewSubscriptions });
})();
