// The tenant portal's endpoints: the list with what needs attention, registering and changing one
// (event type chips, custom headers, retry schedule), and an endpoint's page (verify, test, enable
// or disable, secrets, recovery, health). Loaded after portal-activity.js (see portal-core.js).
"use strict";
(() => {
  const {
    CATALOGUE, PATTERNS, isTrouble, state, views, h, badge, time, field, select, table, props, heading,
    refreshButton, say, busy, panelForm, confirmButton, api, listAll, sinceOf, endpointName, refresh, eventsTable,
  } = window.GraphhookPortal;
  const { words } = window.GraphhookWeb;

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

  // Custom header values are stored encrypted and the api shows each as this mask. Sent back
  // unchanged it keeps the stored value, so the form shows the mask and sends it back as it is
  // unless the tenant types a new value.
  const MASK = "********";

  function parseHeaders(text) {
    const headers = {};
    for (const line of text.split("\n").map((l) => l.trim()).filter(Boolean)) {
      const at = line.indexOf(":");
      if (at < 1) throw new Error(`Custom headers: "${line}" is not "Name: value".`);
      headers[line.slice(0, at).trim()] = line.slice(at + 1).trim();
    }
    return headers;
  }

  /** Retry delays typed as seconds, comma-separated; empty: the deployment's schedule (null). */
  function parseSchedule(text) {
    const parts = text.split(/[\s,]+/).filter(Boolean);
    if (!parts.length) return null;
    if (parts.length > 20) throw new Error("Retry schedule: at most 20 delays.");
    return parts.map((p) => {
      if (!/^\d+$/.test(p) || Number(p) < 1 || Number(p) > 86400) {
        throw new Error(`Retry schedule: "${p}" is not a delay of 1 to 86400 seconds.`);
      }
      return Number(p);
    });
  }

  /** 300 → "5 min": the largest unit that divides the delay. */
  function span(secs) {
    if (secs % 3600 === 0) return `${secs / 3600} h`;
    if (secs % 60 === 0) return `${secs / 60} min`;
    return `${secs} s`;
  }

  function scheduleText(schedule) {
    return schedule ? `${schedule.map(span).join(", ")} (${schedule.length + 1} attempts in all)`
      : "the deployment's default";
  }

  // ---- Endpoints -----------------------------------------------------------------------------

  async function viewEndpoints({ id }) {
    if (id) return viewEndpoint(id);
    const [{ data: endpoints }, { data: events }] = await Promise.all([
      listAll("/api/v1/endpoints", {}, 5),
      listAll("/api/v1/events", { since: sinceOf("24h"), order: "desc" }, 5),
    ]);
    const health = await Promise.all(endpoints.slice(0, 50).map((e) =>
      api("GET", `/api/v1/endpoints/${encodeURIComponent(e.id)}/health`).catch(() => null)));
    const trouble = events.filter(isTrouble);
    const byId = new Map(endpoints.map((e) => [e.id, e]));
    const attention = [];
    endpoints.forEach((e, i) => {
      if (e.status === "disabled") attention.push(`${e.url} is disabled (${words(e.disabled_reason)}): it receives nothing.`);
      if (health[i]?.circuit === "open") attention.push(`${e.url}: circuit open, deliveries wait until ${new Date(health[i].circuit_until).toLocaleString()}.`);
    });
    const rows = endpoints.map((e, i) => h("tr", {},
      h("th", { scope: "row" }, h("code", { class: "url" }, e.url), e.description ? h("div", { class: "muted" }, e.description) : null),
      h("td", {}, badge(e.status), e.disabled_reason ? h("div", { class: "muted" }, words(e.disabled_reason)) : null,
        e.verification_error ? h("div", { class: "error-text" }, e.verification_error) : null),
      h("td", {}, health[i] ? badge(health[i].circuit) : h("span", { class: "muted" }, "unknown")),
      h("td", {}, e.filter_types.length ? e.filter_types.map((t) => h("code", { class: "tag" }, t)) : h("span", { class: "muted" }, "every event")),
      h("td", {}, h("a", { href: `#/endpoints/${encodeURIComponent(e.id)}`, class: "button-link", "aria-label": `Manage ${e.url}` }, "Manage"))));
    return [
      heading("Endpoints", refreshButton()),
      attention.length || trouble.length ? h("section", { class: "alert attention", "aria-labelledby": "ep-attention" },
        h("h2", { id: "ep-attention" }, "Needs attention"),
        h("ul", {}, attention.map((t) => h("li", {}, t)),
          trouble.slice(0, 5).map((e) => h("li", {}, h("strong", {}, e.event_type), " ",
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
    const headers = h("textarea", { id: `${prefix}-headers`, rows: "3", spellcheck: "false", autocomplete: "off" },
      Object.keys(e.headers || {}).map((k) => `${k}: ${MASK}`).join("\n"));
    const timeout = h("input", { type: "number", id: `${prefix}-timeout`, min: "1", max: "30", value: e.timeout_secs || "" });
    const rate = h("input", { type: "number", id: `${prefix}-rate`, min: "1", value: e.rate_limit_per_sec || "" });
    const inflight = h("input", { type: "number", id: `${prefix}-inflight`, min: "1", value: existing ? e.max_in_flight : "" });
    const retries = h("input", { type: "text", id: `${prefix}-retries`, inputmode: "numeric", autocomplete: "off",
      spellcheck: "false", value: (e.retry_schedule || []).join(", "), placeholder: "e.g. 10, 60, 600, 3600" });
    const ed25519 = existing ? null : h("input", { type: "checkbox", id: "ep-ed25519" });
    return panelForm({
      key: prefix,
      title: existing ? "Change this endpoint" : "Register an endpoint",
      fields: [field("Endpoint URL", url, existing ? "A new URL is verified again before anything else is sent to it."
        : "Graphhook POSTs a signed verification challenge to it at once; it must answer with the challenge."),
      field("Description (optional)", description),
      filters.el,
      h("details", {}, h("summary", {}, "More options"),
        field("Custom headers (optional)", headers, (existing
          ? `One per line, Name: value. Values are stored encrypted and never shown: a line left as ${MASK} keeps its value; type a new value to replace it, delete the line to remove the header.`
          : "One per line, Name: value (e.g. Authorization: Bearer …). Values are stored encrypted and never shown again.")
          + " Hop-by-hop, content and webhook-* headers are refused."),
        h("div", { class: "grid3" }, field("Timeout (seconds, 1–30)", timeout), field("Rate limit (requests/s)", rate),
          field("Most requests in flight", inflight)),
        field("Retry schedule (optional)", retries, "The delays in seconds before each retry of a failed delivery, " +
          "comma-separated (1–20 delays of 1–86400 s, each ±20 %); after the last one the delivery is exhausted. " +
          "Empty: the deployment's default schedule."),
        ed25519 ? h("div", { class: "field check" }, ed25519, h("label", { for: "ep-ed25519" }, "Also sign with Ed25519 (v1a)")) : null)],
      submitText: existing ? "Save changes" : "Register endpoint",
      busyText: existing ? "Saving…" : "Registering and verifying…",
      submit: async () => {
        if (!url.value.trim()) throw new Error("Enter the endpoint's URL.");
        const body = { url: url.value.trim(), description: description.value.trim(), filter_types: filters.values(),
          headers: parseHeaders(headers.value) };
        if (timeout.value) body.timeout_secs = Number(timeout.value);
        if (rate.value) body.rate_limit_per_sec = Number(rate.value);
        else if (existing && e.rate_limit_per_sec) body.rate_limit_per_sec = null;
        if (inflight.value) body.max_in_flight = Number(inflight.value);
        const schedule = parseSchedule(retries.value);
        if (schedule) body.retry_schedule = schedule;
        else if (existing && e.retry_schedule) body.retry_schedule = null;
        if (existing) {
          if (body.url === e.url) delete body.url;
          const saved = await api("PATCH", `/api/v1/endpoints/${encodeURIComponent(e.id)}`, body);
          say(`Saved. The endpoint is ${words(saved.status)}.`);
          return refresh();
        }
        if (ed25519.checked) body.ed25519 = true;
        const created = await api("POST", "/api/v1/endpoints", body);
        state.flash = h("section", { class: "note result", "aria-labelledby": "created-title" },
          h("h2", { id: "created-title" }, "Endpoint registered"),
          h("p", {}, h("code", { class: "url" }, created.url), " is ", badge(created.status),
            created.verification_error ? ` — ${created.verification_error}` : ""),
          secretBox("Signing secret", created.secret));
        say(created.status === "active" ? "Endpoint registered and verified."
          : "Endpoint registered, but it did not answer the verification challenge yet.");
        return refresh();
      },
    });
  }

  function secretBox(label, secret) {
    return h("div", {}, h("p", {}, h("strong", {}, label), " — shown once: store it now, it verifies our signatures."),
      h("code", { class: "secret", id: "new-secret" }, secret));
  }

  async function viewEndpoint(id) {
    const path = `/api/v1/endpoints/${encodeURIComponent(id)}`;
    const [e, health, { data: events }] = await Promise.all([
      api("GET", path), api("GET", `${path}/health`).catch(() => null),
      api("GET", `/api/v1/events?${new URLSearchParams({ endpoint_id: id, since: sinceOf("7d"), order: "desc", limit: "20" })}`),
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
      e.status === "disabled" ? h("p", { class: "alert" }, `Disabled (${words(e.disabled_reason)}): it receives nothing until it is enabled again.`) : null,
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
          state.flash = h("section", { class: r.delivered ? "note result" : "alert result" }, h("h2", {}, r.delivered ? "Test delivered" : "Test failed"),
            props([["Message", h("code", {}, r.message_id)], ["Status", r.status ?? "no response"], ["Duration", `${r.duration_ms} ms`],
              r.error ? ["Error", `${r.error.class}: ${r.error.message}`] : null,
              ["Response", h("pre", { class: "excerpt" }, r.response_body || "(empty)")]]));
          say(r.delivered ? "The test event was delivered." : "The test event was not delivered; it will be retried.");
          return refresh();
        }, "secondary", "ep-test"),
        act(e.status === "disabled" ? "Enable" : "Disable", "Saving…", async () => {
          const r = await api("PATCH", path, { enabled: e.status === "disabled" });
          say(`The endpoint is ${words(r.status)}.`);
          return refresh();
        }, "secondary", "ep-toggle"),
        act("Show current secret", "Reading…", async () => {
          const r = await api("GET", `${path}/secret`);
          resultSlot.replaceChildren(h("p", {}, h("strong", {}, "Current signing secret")), h("code", { class: "secret" }, r.secret));
        }, "secondary", "ep-secret"),
        confirmButton("Delete endpoint", "Delete it? Its history stays. ", "Yes, delete", async () => {
          await api("DELETE", path);
          state.afterNavigation = "Endpoint deleted.";
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
        ["Retry schedule", scheduleText(e.retry_schedule)],
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
        eventsTable(events, new Map([[e.id, e]])),
        h("p", {}, h("a", { href: `#/events?endpoint_id=${encodeURIComponent(e.id)}` }, "All events for this endpoint"))),
      endpointForm(e),
    ];
  }

  Object.assign(views, { endpoints: viewEndpoints });
})();
