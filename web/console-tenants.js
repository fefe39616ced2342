// The operator console's tenants: the searchable list, and a tenant with its consent, health,
// subscriptions, connections, endpoints and API keys, and the actions on it (suspend, resume,
// offboard). Loaded after console-subscriptions.js (see console-core.js).
"use strict";

(() => {
  const {
    PAGE_SIZE,
    main,
    state,
    h,
    uid,
    announce,
    parseDate,
    time,
    timeInline,
    number,
    percent,
    badge,
    SignedOut,
    api,
    query,
    errorBox,
    startView,
    live,
    replaceHash,
    dataTable,
    pagedTable,
    tr,
    numTd,
    select,
    field,
    subscriptionsTable,
  } = window.GraphhookConsole;
  const { term, words } = window.GraphhookWeb;

  const TENANT_STATUSES = ["pending", "active", "consent_revoked", "suspended", "offboarded"];

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
          ? `Tenants matching “${filters.search}”${filters.status ? `, ${words(filters.status)}` : ""}`
          : filters.status
            ? `Tenants that are ${words(filters.status)}`
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
      term("Status", h("span", { id: "tenant-status" }, badge(t.status))),
      t.status_reason ? h("div", { class: "wide" }, h("dt", null, "Why"), h("dd", { id: "tenant-status-reason" }, t.status_reason)) : null,
      term("Graphhook id", h("code", null, t.id)),
      term("Entra tenant id", h("code", null, t.entra_tenant_id)),
      term("Created", time(t.created_at)),
      term("Updated", time(t.updated_at)),
      t.offboarded_at ? term("Offboarded", time(t.offboarded_at)) : null,
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
      section("Connections", connectionsTable(data.connections ?? [], t.name)),
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
    // A button that opens `form(cancel)` in the panel, its field focused.
    const opener = (text, className, form) => {
      const open = h("button", { type: "button", class: className, "aria-expanded": "false" }, text);
      open.addEventListener("click", () => {
        expand(open);
        panel.replaceChildren(form(() => closePanel(panel, open)));
        panel.querySelector("textarea, input").focus();
      });
      return open;
    };

    if (["active", "pending", "consent_revoked"].includes(t.status)) {
      buttons.append(opener("Suspend…", "danger", (cancel) => suspendForm(t, { done, cancel })));
    }
    if (t.status === "suspended") {
      const resume = h("button", { type: "button" }, "Resume");
      resume.addEventListener("click", async () => {
        resume.disabled = true;
        try {
          const updated = await api("POST", `/admin/v1/tenants/${encodeURIComponent(t.id)}/resume`);
          await done(`${t.name} resumed; it is ${words(updated.status)}.`);
        } catch (error) {
          if (error instanceof SignedOut) return;
          resume.disabled = false;
          panel.replaceChildren(errorBox("Could not resume", error));
        }
      });
      buttons.append(resume);
    }
    if (t.status !== "offboarded") {
      buttons.append(opener("Offboard…", "secondary danger-outline", (cancel) => offboardForm(t, { ctx, cancel })));
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

  // A confirming form of the tenant's actions: `intro` and one `input` above the danger button
  // and Cancel (or Escape). `refusal()` says why the input cannot be sent (shown, nothing sent);
  // `send()` does the action, a failure shown as `failed`; `after(result)` follows a success.
  function actionForm({ key, title, intro, input, label, help, submitText, refusal, send, failed, after, cancel }) {
    const problem = h("div");
    const submit = h("button", { type: "submit", class: "danger" }, submitText);
    const form = h(
      "form",
      { id: "action-form", class: "panel", novalidate: true, "aria-labelledby": `${key}-title` },
      h("h3", { id: `${key}-title` }, title),
      intro,
      field(input.id, label, input, help),
      problem,
      h("div", { class: "actions" }, submit, h("button", { type: "button", class: "secondary", onclick: cancel }, "Cancel")),
    );
    form.addEventListener("keydown", (event) => {
      if (event.key === "Escape") cancel();
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const refused = refusal();
      if (refused) {
        problem.replaceChildren(h("p", { class: "alert", role: "alert" }, refused));
        input.setAttribute("aria-invalid", "true");
        input.focus();
        return;
      }
      submit.disabled = true;
      let result;
      try {
        result = await send();
      } catch (error) {
        if (error instanceof SignedOut) return;
        submit.disabled = false;
        problem.replaceChildren(errorBox(failed, error));
        return;
      }
      if (after) await after(result);
    });
    return form;
  }

  function suspendForm(t, { done, cancel }) {
    const reason = h("textarea", { id: "suspend-reason", name: "reason", rows: "3", maxlength: "500", required: true });
    return actionForm({
      key: "suspend",
      title: `Suspend ${t.name}`,
      intro: h(
        "p",
        null,
        "Its api calls get 403 with this reason and its deliveries wait (no retry is spent) until it is resumed. " +
          "Its subscriptions are still renewed and what Graph sends is still recorded.",
      ),
      input: reason,
      label: "Reason",
      help: "Shown to the tenant in its 403s and kept in the audit log (at most 500 characters).",
      submitText: "Suspend tenant",
      refusal: () => (reason.value.trim() ? null : "Give a reason: the tenant sees it."),
      send: async () => {
        await api("POST", `/admin/v1/tenants/${encodeURIComponent(t.id)}/suspend`, { reason: reason.value.trim() });
        await done(`${t.name} suspended.`);
      },
      failed: "Could not suspend",
      cancel,
    });
  }

  function offboardForm(t, { ctx, cancel }) {
    const confirm = h("input", { id: "offboard-confirm", name: "confirm", type: "text", autocomplete: "off", spellcheck: "false", required: true });
    return actionForm({
      key: "offboard",
      title: `Offboard ${t.name}`,
      intro: h(
        "div",
        { class: "alert" },
        h(
          "p",
          null,
          "This cannot be undone. Its Graph subscriptions are deleted at Graph, its API keys revoked and its deliveries stopped; " +
            "consenting again does not bring it back; its data is removed after the retention period. The audit log keeps the record.",
        ),
      ),
      input: confirm,
      label: `Type the tenant's name, ${t.name}, to confirm`,
      submitText: "Offboard tenant",
      refusal: () => (confirm.value === t.name ? null : `Type ${t.name} exactly as shown to confirm.`),
      send: () => api("POST", `/admin/v1/tenants/${encodeURIComponent(t.id)}/offboard`, { confirm: confirm.value }),
      failed: "Could not offboard",
      after: async (report) => {
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
      },
      cancel,
    });
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
    return h(
      "dl",
      { class: "facts figures" },
      term("Attempts (24 h)", number(health.attempts_24h)),
      term("Succeeded (24 h)", number(health.succeeded_24h)),
      term("Failed (24 h)", number(health.failed_24h), health.failed_24h ? "warn" : null),
      term("Success rate (24 h)", percent(rate)),
      term("Open deliveries", number(health.open_deliveries)),
      term("Exhausted (24 h)", number(health.exhausted_24h), health.exhausted_24h ? "warn" : null),
    );
  }

  function endpointsTable(endpoints, name) {
    if (!endpoints.length) return h("p", { class: "empty" }, "No endpoints.");
    return dataTable(
      `Endpoints of ${name}`,
      ["URL", "Status", "Failing since"],
      endpoints.map((e) =>
        tr(
          h("code", { class: "url" }, e.url),
          [badge(e.status), e.disabled_reason ? ` (${words(e.disabled_reason)})` : null],
          time(e.failing_since),
        ),
      ),
    );
  }

  /** The Microsoft users connected to the tenant, whose delegated tokens hold some subscriptions. */
  function connectionsTable(connections, name) {
    if (!connections.length) return h("p", { class: "empty" }, "No connected users.");
    return dataTable(
      `Connections of ${name} (connected Microsoft users; tokens are never shown)`,
      ["User", "Account", "Status", "Connected", "Refreshed", "Last error"],
      connections.map((c) =>
        tr(
          [
            c.display_name || c.username || h("span", { class: "muted" }, "not signed in yet"),
            c.username && c.display_name ? h("span", { class: "sub-kind" }, c.username) : null,
            h("span", { class: "sub-kind" }, h("code", null, c.id)),
          ],
          c.account,
          badge(c.status),
          time(c.connected_at),
          time(c.refreshed_at),
          c.last_error ? h("span", { class: "error-text" }, c.last_error) : "—",
        ),
      ),
      "connections",
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
    return dataTable(
      `API keys of ${name} (prefixes only; secrets are never shown)`,
      ["Name", "Prefix", "State", "Created", "Last used", "Expires"],
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
    );
  }

  Object.assign(window.GraphhookConsole, { viewTenants, viewTenant });
})();
