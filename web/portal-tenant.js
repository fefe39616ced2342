// The tenant portal's tenant page: its status, consent and permissions. Loaded last (see
// portal-core.js).
"use strict";
(() => {
  const {
    views, h, badge, time, props, heading, refreshButton, say, busy, api, session, loadTenant, refresh,
  } = window.GraphhookPortal;

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

  Object.assign(views, { tenant: viewTenant });
})();
