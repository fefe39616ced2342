// The tenant portal's activity: messages with their deliveries and attempts (and resending them),
// and operational events, trouble first. Loaded after portal-core.js (see there).
"use strict";
(() => {
  const {
    CATALOGUE, OPERATIONAL, WINDOWS, isTrouble, views, h, badge, time, field, select, table, props, heading,
    refreshButton, say, busy, api, listAll, sinceOf, endpointsById, endpointName, refresh,
  } = window.GraphhookPortal;

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
    // Newest first, filtered by the api; then the deliveries of those messages (none is older
    // than the oldest message shown), with the same filters.
    const [messages, endpoints] = await Promise.all([
      listAll("/api/v1/messages", { since, event_type: eventType, endpoint_id: endpointId, status, order: "desc" }),
      endpointsById(),
    ]);
    const shown = messages.data;
    const oldest = shown.length ? shown[shown.length - 1].created_at : null;
    const deliveries = oldest
      ? await listAll("/api/v1/deliveries", { since: new Date(oldest) > new Date(since) ? oldest : since, event_type: eventType, endpoint_id: endpointId, status, order: "desc" })
      : { data: [], truncated: false };
    const byMessage = new Map();
    for (const d of deliveries.data.slice().reverse()) byMessage.set(d.message_id, [...(byMessage.get(d.message_id) || []), d]);
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
      messages.truncated || deliveries.truncated ? h("p", { class: "note" }, "Only the newest 2,000 of this period are listed: choose a shorter period or a filter.") : null,
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
      listAll("/api/v1/events", { since: sinceOf(q.get("window")), event_type: eventType, endpoint_id: endpointId, order: "desc" }),
      endpointsById(),
    ]);
    const list = events.data;
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
      events.truncated ? h("p", { class: "note" }, "Only the newest 2,000 of this period are listed: choose a shorter period or a filter.") : null,
      eventsTable(list, endpoints),
    ];
  }

  Object.assign(window.GraphhookPortal, { eventsTable });
  Object.assign(views, { messages: viewMessages, events: viewEvents });
})();
