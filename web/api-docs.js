// Renders /api/openapi.json as a readable reference: one section per tag, one entry per
// operation with its parameters, request body and responses. No framework, no build step.
(function () {
  "use strict";
  const root = document.getElementById("reference");

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
    (children || []).forEach((c) => node.append(c instanceof Node ? c : document.createTextNode(String(c))));
    return node;
  }

  function schemaName(schema) {
    if (!schema) return "";
    if (schema.$ref) return schema.$ref.split("/").pop();
    if (schema.type === "array" && schema.items) return "array of " + schemaName(schema.items);
    return Array.isArray(schema.type) ? schema.type.join(" | ") : schema.type || "object";
  }

  function fields(doc, name) {
    const schema = ((doc.components || {}).schemas || {})[name];
    if (!schema || !schema.properties) return null;
    const required = new Set(schema.required || []);
    const rows = Object.entries(schema.properties).map(([field, s]) =>
      el("tr", {}, [
        el("td", {}, [el("code", {}, [field])]),
        el("td", {}, [schemaName(s) + (required.has(field) ? "" : " (optional)")]),
        el("td", {}, [s.description || ""]),
      ])
    );
    return el("table", {}, [
      el("thead", {}, [el("tr", {}, [el("th", { scope: "col" }, ["field"]), el("th", { scope: "col" }, ["type"]), el("th", { scope: "col" }, ["meaning"])])]),
      el("tbody", {}, rows),
    ]);
  }

  function render(doc) {
    root.textContent = "";
    const byTag = {};
    Object.entries(doc.paths || {}).forEach(([path, item]) => {
      Object.entries(item).forEach(([method, op]) => {
        (op.tags || ["other"]).forEach((tag) => (byTag[tag] = byTag[tag] || []).push({ path, method, op }));
      });
    });
    (doc.tags || Object.keys(byTag).map((name) => ({ name }))).forEach((tag) => {
      const ops = byTag[tag.name] || [];
      if (!ops.length) return;
      const section = el("section", {}, [el("h2", {}, [tag.name]), el("p", {}, [tag.description || ""])]);
      ops.forEach(({ path, method, op }) => {
        section.append(el("h3", {}, [el("code", {}, [method.toUpperCase() + " " + path])]));
        section.append(el("p", {}, [op.summary || ""]));
        (op.parameters || []).forEach((p) =>
          section.append(el("p", {}, [el("code", {}, [p.name]), " (" + p.in + ") " + (p.description || "")]))
        );
        const body = op.requestBody && op.requestBody.content && op.requestBody.content["application/json"];
        if (body) {
          const name = schemaName(body.schema);
          section.append(el("h4", {}, ["Request body: " + name]));
          const table = fields(doc, name);
          if (table) section.append(table);
        }
        const list = el("ul", {}, []);
        Object.entries(op.responses || {}).forEach(([status, r]) => {
          const content = r.content && r.content["application/json"];
          list.append(el("li", {}, [el("code", {}, [status]), " " + (r.description || "") + (content ? " — " + schemaName(content.schema) : "")]));
        });
        section.append(el("h4", {}, ["Responses"]), list);
      });
      root.append(section);
    });
  }

  fetch("/api/openapi.json")
    .then((r) => r.json())
    .then(render)
    .catch((e) => (root.textContent = "Could not load the document: " + e));
})();
