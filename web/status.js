// The service status page: asks /readyz (the machines' readiness check) and shows its answer,
// a 200 or a 503 with the same checks, as a sentence and a table of the services it checked.
(function () {
  "use strict";
  const root = document.getElementById("status");
  const again = document.getElementById("check-again");

  /** What each check is, for people; a check not listed here shows under its own name. */
  const NAMES = {
    postgres: ["Database", "PostgreSQL: tenants, subscriptions, messages and their history"],
    redis: ["Job queues", "Redis: deliveries, renewals and every other background job"],
    microsoft: ["Microsoft app credential", "what Graphhook signs in to Microsoft with"],
  };

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
    (children || []).forEach((c) => node.append(c instanceof Node ? c : document.createTextNode(String(c))));
    return node;
  }

  function row(name, value) {
    const [label, what] = NAMES[name] || [name, ""];
    const ok = value === "ok";
    return el("tr", {}, [
      el("th", { scope: "row" }, [label, what ? el("span", { class: "help block" }, [what]) : ""]),
      el("td", {}, [el("span", { class: ok ? "badge ok" : "badge bad" }, [ok ? "working" : "failing"])]),
      el("td", {}, [ok ? "" : el("code", {}, [String(value)])]),
    ]);
  }

  function show(ready, body) {
    const checks = (ready ? body.checks : body.details && body.details.checks) || {};
    const failing = Object.entries(checks).filter(([, v]) => v !== "ok");
    const summary = ready
      ? failing.length ? "Ready, with a problem an operator must fix:" : "All systems are working."
      : `Not ready: ${body.message || "a service it depends on does not answer"}.`;
    root.replaceChildren(
      el("p", { class: ready && !failing.length ? "note" : "alert", id: "overall" }, [summary]),
      el("div", { class: "table-wrap" }, [
        el("table", {}, [
          el("caption", {}, ["Checks"]),
          el("thead", {}, [el("tr", {}, ["Service", "State", "Error"].map((h) => el("th", { scope: "col" }, [h])))]),
          el("tbody", {}, Object.entries(checks).map(([name, value]) => row(name, value))),
        ]),
      ]),
      el("p", { class: "help" }, ["Checked at ", el("time", { datetime: new Date().toISOString() }, [new Date().toLocaleString()]), "."]),
    );
  }

  function check() {
    again.disabled = true;
    fetch("/readyz", { cache: "no-store", headers: { accept: "application/json" } })
      .then((r) => r.json().then((body) => show(r.ok, body)))
      .catch((e) => root.replaceChildren(el("p", { class: "alert" }, [`Graphhook did not answer: ${e.message}`])))
      .finally(() => {
        again.hidden = false;
        again.disabled = false;
      });
  }

  again.addEventListener("click", check);
  check();
})();
