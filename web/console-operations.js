// The operator console's operations (queues, backlogs, delivery figures and charts in inline
// SVG, the app credential) and audit log. Loaded last (see console-core.js).
"use strict";

(() => {
  const {
    PAGE_SIZE,
    main,
    h,
    svg,
    uid,
    announce,
    plural,
    formatTime,
    time,
    timeInline,
    hourLabel,
    number,
    percent,
    millis,
    SignedOut,
    api,
    query,
    errorBox,
    startView,
    live,
    dataTable,
    pagedTable,
    tr,
    tenantCell,
    numTd,
    field,
    replaceHash,
  } = window.GraphhookConsole;
  const { term } = window.GraphhookWeb;

  // ---------------------------------------------------------------- Operations

  function viewOperations() {
    const { gen } = startView("Operations");
    const refresh = h("button", { type: "button", class: "secondary" }, "Refresh");
    const queues = h("section", { "aria-labelledby": "queues-title" }, h("h2", { id: "queues-title" }, "Queues and backlogs"));
    const stats = h("section", { "aria-labelledby": "stats-title" }, h("h2", { id: "stats-title" }, "Deliveries"));
    const credential = h("section", { "aria-labelledby": "credential-title", id: "credential" }, h("h2", { id: "credential-title" }, "App credential"));
    const bodies = [queues, stats, credential].map((s) => {
      const body = h("div", { "aria-busy": "true" }, h("p", { class: "muted" }, "Loading…"));
      s.append(body);
      return body;
    });
    main.append(h("p", { class: "toolbar" }, refresh, " ", h("span", { class: "muted", id: "ops-loaded" })), credential, queues, stats);

    const load = async () => {
      refresh.disabled = true;
      const parts = [
        ["/admin/v1/queues", queuesView, "the queues"],
        ["/admin/v1/deliveries/stats", statsView, "the delivery statistics"],
        ["/admin/v1/credential", credentialView, "the credential"],
      ];
      const results = await Promise.allSettled(parts.map(([path]) => api("GET", path)));
      if (!live(gen)) return;
      if (results.some((r) => r.status === "rejected" && r.reason instanceof SignedOut)) return;
      const targets = [bodies[0], bodies[1], bodies[2]];
      results.forEach((result, i) => {
        const [, render, what] = parts[i];
        const target = targets[i];
        target.removeAttribute("aria-busy");
        if (result.status === "fulfilled") target.replaceChildren(...[render(result.value)].flat());
        else target.replaceChildren(errorBox(`Could not load ${what}`, result.reason, load));
      });
      document.getElementById("ops-loaded").textContent = `Loaded at ${formatTime(new Date().toISOString())}.`;
      refresh.disabled = false;
      announce("Operations figures loaded.");
    };
    refresh.addEventListener("click", load);
    load();
  }

  /** A column of numbers, for dataTable. */
  const num = (label) => ({ label, numeric: true });

  function queuesView(q) {
    const names = Object.keys(q.queues ?? {}).sort();
    const depth = names.length
      ? dataTable(
          "Queue depths (jobs by state)",
          ["Queue", num("Ready"), num("Scheduled"), num("Running"), num("Dead")],
          names.map((name) => {
            const d = q.queues[name];
            const dead = numTd(d.dead);
            if (d.dead > 0) dead.classList.add("warn");
            return tr(h("code", null, name), numTd(d.pending), numTd(d.scheduled), numTd(d.running), dead);
          }),
          "queues",
        )
      : h("p", { class: "alert" }, "No worker recorded queue depths in the past day: are the workers running?");
    const backlogs = dataTable(
      "Backlogs in Postgres now",
      ["Backlog", num("Count"), "Oldest or nearest"],
      [
        tr("Deliveries due (pending or waiting for a retry)", numTd(q.sweeper.deliveries_due), time(q.sweeper.oldest_due_at, { withRelative: true })),
        tr("Graph batches not processed yet", numTd(q.ingest.unprocessed_batches), time(q.ingest.oldest_unprocessed_at, { withRelative: true })),
        tr(
          "Subscriptions whose upkeep is due",
          numTd(q.subscriptions.due),
          q.subscriptions.nearest_expiry ? ["nearest expiry ", time(q.subscriptions.nearest_expiry, { withRelative: true })] : "—",
        ),
      ],
      "backlogs",
    );
    return [
      h("p", { class: "muted" }, q.recorded_at ? ["Depths recorded by a worker at ", timeInline(q.recorded_at), "."] : "No recorded depths."),
      depth,
      backlogs,
    ];
  }

  function windowCard(w) {
    const label = w.window === "1h" ? "Last hour" : w.window === "24h" ? "Last 24 hours" : w.window;
    return h(
      "div",
      { class: "window" },
      h("h3", null, label),
      h(
        "dl",
        { class: "facts figures" },
        term("Attempts", number(w.attempts)),
        term("Succeeded", number(w.succeeded)),
        term("Failed", number(w.failed), w.failed ? "warn" : null),
        term("Success rate", percent(w.success_rate)),
        term("Latency p50", millis(w.latency_ms?.p50)),
        term("Latency p95", millis(w.latency_ms?.p95)),
        term("Latency p99", millis(w.latency_ms?.p99)),
      ),
    );
  }

  function statsView(stats) {
    const series = stats.series ?? [];
    const legend = h(
      "ul",
      { class: "legend", "aria-hidden": "true" },
      h("li", null, h("span", { class: "swatch attempts" }), "Attempts"),
      h("li", null, h("span", { class: "swatch succeeded" }), "Succeeded"),
    );
    return [
      h("div", { class: "windows" }, (stats.windows ?? []).map(windowCard)),
      h("h3", null, "The last 24 hours, hour by hour (UTC)"),
      h("figure", { class: "chart-figure" }, h("figcaption", null, "Attempts and successes per hour"), attemptsChart(series), legend),
      h("figure", { class: "chart-figure" }, h("figcaption", null, "Median (p50) attempt latency per hour"), latencyChart(series)),
      h(
        "details",
        { class: "chart-data" },
        h("summary", null, "The hourly figures as a table"),
        dataTable(
          "Delivery attempts per hour (UTC), oldest first",
          ["Hour", num("Attempts"), num("Succeeded"), num("Success rate"), num("Latency p50")],
          series.map((b) =>
            tr(
              time(b.at),
              numTd(b.attempts),
              numTd(b.succeeded),
              h("td", { class: "num" }, percent(b.attempts ? b.succeeded / b.attempts : null)),
              h("td", { class: "num" }, millis(b.p50_ms)),
            ),
          ),
          "series",
        ),
      ),
    ];
  }

  // ---------------------------------------------------------------- charts (inline SVG)

  const CHART = { width: 720, height: 220, top: 14, right: 12, bottom: 34, left: 56 };

  /** A round upper bound for an axis: 1, 2, 5 × 10ⁿ. */
  function niceMax(value) {
    if (!(value > 0)) return 1;
    const power = 10 ** Math.floor(Math.log10(value));
    for (const step of [1, 2, 5, 10]) {
      if (step * power >= value) return step * power;
    }
    return 10 * power;
  }

  /** The frame shared by both charts: <svg> with its <title>/<desc>, grid and axis labels. */
  function chartFrame(title, description, series, max, format) {
    const { width, height, top, right, bottom, left } = CHART;
    const titleId = uid("chart-title");
    const descId = uid("chart-desc");
    const root = svg(
      "svg",
      {
        class: "chart",
        viewBox: `0 0 ${width} ${height}`,
        role: "img",
        "aria-labelledby": titleId,
        "aria-describedby": descId,
        focusable: "false",
      },
      svg("title", { id: titleId }, title),
      svg("desc", { id: descId }, description),
    );
    const innerHeight = height - top - bottom;
    const innerWidth = width - left - right;
    const y = (v) => top + innerHeight - (innerHeight * v) / max;
    const grid = svg("g", { class: "grid", "aria-hidden": "true" });
    for (const v of [0, max / 2, max]) {
      grid.append(
        svg("line", { x1: left, x2: width - right, y1: y(v), y2: y(v) }),
        svg("text", { x: left - 6, y: y(v) + 4, "text-anchor": "end" }, format(v)),
      );
    }
    const band = innerWidth / Math.max(series.length, 1);
    series.forEach((b, i) => {
      if (i % 3 === 0 || i === series.length - 1) {
        grid.append(svg("text", { x: left + band * (i + 0.5), y: height - bottom + 18, "text-anchor": "middle" }, hourLabel(b.at)));
      }
    });
    root.append(grid);
    return { root, y, band, innerHeight, innerWidth };
  }

  function emptyMessage(root, text) {
    root.append(
      svg("text", { class: "chart-empty", x: CHART.width / 2, y: CHART.top + (CHART.height - CHART.top - CHART.bottom) / 2, "text-anchor": "middle" }, text),
    );
  }

  function attemptsChart(series) {
    const attempts = series.reduce((n, b) => n + b.attempts, 0);
    const succeeded = series.reduce((n, b) => n + b.succeeded, 0);
    const busiest = series.reduce((best, b) => (b.attempts > (best?.attempts ?? 0) ? b : best), null);
    const description = attempts
      ? `${plural(attempts, "attempt", "attempts")} and ${plural(succeeded, "success", "successes")} in the last 24 hours; ` +
        `the busiest hour began at ${hourLabel(busiest.at)} UTC with ${plural(busiest.attempts, "attempt", "attempts")}. ` +
        "The table below has every hour."
      : "No delivery attempts in the last 24 hours.";
    const max = niceMax(Math.max(2, ...series.map((b) => b.attempts)));
    const format = (v) => (Number.isInteger(v) ? number(v) : v.toFixed(1));
    const { root, y, band } = chartFrame("Delivery attempts and successes per hour", description, series, max, format);
    const bars = svg("g", { class: "bars" });
    const barWidth = band * 0.36;
    series.forEach((b, i) => {
      const x = CHART.left + band * i + band * 0.12;
      const label = `${hourLabel(b.at)} UTC: ${plural(b.attempts, "attempt", "attempts")}, ${number(b.succeeded)} succeeded`;
      const bar = (cls, value, dx) => {
        const top = y(value);
        return svg(
          "rect",
          { class: cls, x: x + dx, y: top, width: barWidth, height: Math.max(0, y(0) - top) },
          svg("title", null, label),
        );
      };
      if (b.attempts) bars.append(bar("bar-attempts", b.attempts, 0), bar("bar-succeeded", b.succeeded, barWidth));
    });
    root.append(bars);
    if (!attempts) emptyMessage(root, "No delivery attempts in the last 24 hours");
    return root;
  }

  function latencyChart(series) {
    const points = series.map((b, i) => ({ i, at: b.at, ms: b.p50_ms })).filter((p) => p.ms !== null && p.ms !== undefined);
    const slowest = points.reduce((best, p) => (p.ms > (best?.ms ?? -1) ? p : best), null);
    const description = points.length
      ? `Median attempt latency per hour; the slowest hour began at ${hourLabel(slowest.at)} UTC with ${millis(slowest.ms)}. ` +
        "Hours without attempts have no point. The table below has every hour."
      : "No attempt latencies in the last 24 hours.";
    const max = niceMax(Math.max(10, ...points.map((p) => p.ms)));
    const { root, y, band } = chartFrame("Median (p50) delivery latency per hour", description, series, max, (v) => `${number(Math.round(v))} ms`);
    const x = (i) => CHART.left + band * (i + 0.5);
    let d = "";
    let previous = -2;
    for (const p of points) {
      d += `${p.i === previous + 1 ? "L" : "M"}${x(p.i).toFixed(1)},${y(p.ms).toFixed(1)} `;
      previous = p.i;
    }
    if (d) root.append(svg("path", { class: "line", d: d.trim() }));
    const dots = svg("g", { class: "dots" });
    for (const p of points) {
      dots.append(svg("circle", { cx: x(p.i), cy: y(p.ms), r: 3.5 }, svg("title", null, `${hourLabel(p.at)} UTC: p50 ${millis(p.ms)}`)));
    }
    root.append(dots);
    if (!points.length) emptyMessage(root, "No latencies in the last 24 hours");
    return root;
  }

  function credentialView(c) {
    return [
      c.warning
        ? h("div", { class: "alert", id: "credential-warning" }, h("p", null, h("strong", null, "Needs attention: "), c.warning))
        : h(
            "p",
            { class: "note" },
            c.expires_at ? `Nothing to do: ${plural(c.days_left ?? 0, "day", "days")} left.` : "No warning: nothing known needs doing.",
          ),
      h(
        "dl",
        { class: "facts" },
        term("Kind", c.kind),
        term("Expires", c.expires_at ? time(c.expires_at, { withRelative: true }) : c.kind === "secret" ? "not configured (microsoft.client_secret_expires_at)" : "—"),
        term("Days left", c.days_left === null || c.days_left === undefined ? "—" : number(c.days_left)),
      ),
    ];
  }

  // ---------------------------------------------------------------- Audit log

  function detailsView(entry) {
    const details = entry.details && typeof entry.details === "object" ? entry.details : {};
    const keys = Object.keys(details);
    const list = keys.length
      ? h(
          "dl",
          { class: "details" },
          keys.map((k) => {
            const v = details[k];
            const text =
              typeof v === "string"
                ? v
                : Array.isArray(v) && v.every((x) => typeof x !== "object" || x === null)
                  ? v.join(", ")
                  : JSON.stringify(v);
            return [h("dt", null, k), h("dd", null, text)];
          }),
        )
      : null;
    const request = entry.request_id ? h("p", { class: "request-id" }, "request ", h("code", null, entry.request_id)) : null;
    return list || request ? [list, request] : "—";
  }

  /** What the audit log's `action` filter takes: an action, or a prefix ending in `.*`. */
  const ACTION_FILTER = /^[a-z0-9_]+(\.[a-z0-9_]+)*(\.\*)?$/;

  function viewAudit(params) {
    const tenantId = params.get("tenant_id") ?? "";
    const action = params.get("action") ?? "";
    const actor = params.get("actor") ?? "";
    startView("Audit log");
    const scope = tenantId
      ? h("p", { class: "note" }, "Only what concerned tenant ", h("a", { href: `#/tenants/${encodeURIComponent(tenantId)}` }, h("code", null, tenantId)), ". ", h("a", { href: "#/audit" }, "Show everything."))
      : h("p", { class: "muted" }, "Every audited action, newest first.");
    const actionInput = h("input", { id: "audit-action", type: "search", autocomplete: "off", spellcheck: "false", value: action, placeholder: "tenant.*" });
    const actorInput = h("input", { id: "audit-actor", type: "search", autocomplete: "off", spellcheck: "false", value: actor, placeholder: "alice" });
    const form = h(
      "form",
      { class: "filters", "aria-label": "Filter the audit log" },
      field("audit-action", "Action", actionInput, "An action (tenant.suspended), or every action under a prefix ending in .* (tenant.*)."),
      field("audit-actor", "Actor", actorInput, "An operator's name, an API key id (key_…) or a system component, exactly."),
      h("div", { class: "field submit" }, h("button", { type: "submit" }, "Apply")),
    );
    const results = h("section", { "aria-label": "Audit log entries" });
    main.append(scope, form, results);
    let filters = { tenant_id: tenantId, action, actor };
    const list = pagedTable(results, {
      what: "the audit log",
      one: "entry",
      noun: "entries",
      className: "audit",
      caption: () => {
        const parts = [filters.tenant_id ? `Audit log of tenant ${filters.tenant_id}` : "Audit log"];
        if (filters.action) parts.push(`action ${filters.action}`);
        if (filters.actor) parts.push(`by ${filters.actor}`);
        return `${parts.join(", ")}, newest first`;
      },
      empty: () => (filters.action || filters.actor ? "No entry matches." : "Nothing has been audited yet."),
      columns: [{ label: "When" }, { label: "Actor" }, { label: "Action" }, { label: "Tenant" }, { label: "Target" }, { label: "Details" }],
      fetchPage: (cursor) => api("GET", `/admin/v1/audit-log${query({ ...filters, limit: PAGE_SIZE, cursor })}`),
      row: (e) =>
        tr(
          time(e.created_at),
          h("td", { class: "actor" }, h("span", { class: "actor-kind" }, e.actor_kind), " ", e.actor_id ?? ""),
          // It may break after a dot or an underscore only (tenant.<wbr>suspended).
          h("code", { class: "action-name" }, e.action.split(/(?<=[._])/).flatMap((part, i) => (i ? [h("wbr"), part] : [part]))),
          tenantCell(e.tenant_id, e.tenant_name),
          e.target_kind
            ? [
                `${e.target_kind} `,
                e.target_kind === "tenant" && e.target_id
                  ? h("a", { href: `#/tenants/${encodeURIComponent(e.target_id)}` }, h("code", null, e.target_id))
                  : h("code", null, e.target_id ?? ""),
              ]
            : "—",
          h("td", null, detailsView(e)),
        ),
    });
    const invalid = (input, message) => {
      announce(message);
      input.setAttribute("aria-invalid", "true");
      input.focus();
    };
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const actionValue = actionInput.value.trim();
      const actorValue = actorInput.value.trim();
      actionInput.removeAttribute("aria-invalid");
      actorInput.removeAttribute("aria-invalid");
      if (actionValue && !ACTION_FILTER.test(actionValue)) {
        invalid(actionInput, "Action: give an action such as tenant.suspended, or a prefix ending in .* such as tenant.*.");
        return;
      }
      if (actorValue.length > 200) {
        invalid(actorInput, "Actor: at most 200 characters.");
        return;
      }
      filters = { tenant_id: tenantId, action: actionValue, actor: actorValue };
      replaceHash(`#/audit${query(filters)}`);
      list.reload();
    });
    list.reload();
  }

  Object.assign(window.GraphhookConsole, { viewOperations, viewAudit });
})();
