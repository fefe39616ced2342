// The operator console's subscriptions: every tenant's, filtered, with "Renew now"; the table
// a tenant's page shows too. Loaded after console-tables.js (see console-core.js).
"use strict";

(() => {
  const {
    PAGE_SIZE,
    main,
    h,
    announce,
    time,
    badge,
    SignedOut,
    api,
    query,
    describeError,
    startView,
    replaceHash,
    dataTable,
    pagedTable,
    SKIP,
    tr,
    tenantCell,
    numTd,
    select,
    field,
  } = window.GraphhookConsole;
  const { words } = window.GraphhookWeb;

  const SUBSCRIPTION_STATUSES = ["creating", "active", "paused", "failed", "deleted"];

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
      [
        h("code", null, s.resource),
        h("span", { class: "sub-kind" }, s.kind),
        s.connection_id
          ? h("span", { class: "sub-kind" }, "through connection ", h("code", null, s.connection_id))
          : null,
      ],
      showTenant ? tenantCell(s.tenant_id, s.tenant_name) : SKIP,
      badge(s.status),
      time(s.expires_at, { withRelative: true }),
      s.renews_at ? [s.due_action ? `${words(s.due_action)} ` : "", time(s.renews_at, { withRelative: true })] : "—",
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
    const rows = subscriptions.map((s) => subscriptionRow(s, { showTenant }));
    return dataTable(caption, SUBSCRIPTION_COLUMNS(showTenant), rows, "subscriptions");
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

  Object.assign(window.GraphhookConsole, { subscriptionsTable, viewSubscriptions });
})();
