// Renders an OpenAPI document as a readable reference: the API's description and how to
// authenticate, a table of contents, then one section per tag with each operation's parameters,
// request body and responses, and an example request and response. The page names its document
// (`data-document` on #reference: /api/openapi.json or /admin/openapi.json), so one page and one
// script serve both APIs. Descriptions are markdown, drawn as text (api-docs-text.js).
(function () {
  "use strict";
  const { el, inline, blocks, resolve, mediaExample, json } = window.GraphhookDocsText;
  const root = document.getElementById("reference");
  const source = root.dataset.document;
  const METHODS = ["get", "post", "put", "patch", "delete"];

  function schemaName(schema) {
    if (!schema) return "";
    if (schema.$ref) return schema.$ref.split("/").pop();
    const alternatives = schema.oneOf || schema.anyOf;
    if (Array.isArray(alternatives)) return alternatives.map(schemaName).join(" | ");
    if (Array.isArray(schema.allOf)) return schema.allOf.map(schemaName).join(" & ");
    if (schema.type === "array" && schema.items) return "array of " + schemaName(schema.items);
    if ("const" in schema) return JSON.stringify(schema.const);
    const type = Array.isArray(schema.type) ? schema.type.join(" | ") : schema.type || "object";
    return schema.format ? `${type} (${schema.format})` : type;
  }

  /** A stable anchor for an operation: `op-post-api-v1-endpoints`. */
  function anchor(prefix, ...parts) {
    return prefix + "-" + parts.join("-").toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "");
  }

  function table(headers, rows) {
    return el("div", { class: "table-wrap" }, [
      el("table", {}, [
        el("thead", {}, [el("tr", {}, headers.map((h) => el("th", { scope: "col" }, [h])))]),
        el("tbody", {}, rows),
      ]),
    ]);
  }

  function description(text) {
    return el("div", { class: "md" }, blocks(text));
  }

  /** The object a (possibly nullable, possibly referenced) schema describes. */
  function objectOf(doc, schema) {
    const resolved = resolve(doc, schema);
    const alternatives = resolved && (resolved.oneOf || resolved.anyOf);
    if (!Array.isArray(alternatives)) return resolved;
    return alternatives.map((s) => resolve(doc, s)).find((s) => s && s.properties);
  }

  function fields(doc, schema) {
    const resolved = objectOf(doc, schema);
    if (!resolved || !resolved.properties) return null;
    const required = new Set(resolved.required || []);
    const rows = Object.entries(resolved.properties).map(([field, s]) => {
      const values = Array.isArray(s.enum) ? s.enum.filter((v) => v !== null) : [];
      const type = [schemaName(s) + (required.has(field) ? "" : " (optional)")];
      if (values.length) type.push(el("br"), "one of ", ...values.flatMap((v, i) => [i ? ", " : "", el("code", {}, [v])]));
      return el("tr", {}, [
        el("td", {}, [el("code", {}, [field])]),
        el("td", {}, type),
        el("td", {}, [description(s.description || (resolve(doc, s) || {}).description)]),
      ]);
    });
    return table(["field", "type", "meaning"], rows);
  }

  function sample(label, value) {
    if (value === undefined) return null;
    return el("figure", { class: "example" }, [
      el("figcaption", {}, [label]),
      el("pre", { tabindex: "0" }, [el("code", {}, [json(value)])]),
    ]);
  }

  /** The operations of the document's paths and webhooks, grouped by tag in the tags' order. */
  function operations(doc) {
    const byTag = new Map((doc.tags || []).map((t) => [t.name, { tag: t, ops: [] }]));
    const add = (path, method, op, webhook) => {
      (op.tags && op.tags.length ? op.tags : ["other"]).forEach((name) => {
        if (!byTag.has(name)) byTag.set(name, { tag: { name }, ops: [] });
        byTag.get(name).ops.push({ path, method, op, webhook, id: anchor("op", method, webhook ? "webhook" : "", path) });
      });
    };
    Object.entries(doc.paths || {}).forEach(([path, item]) =>
      METHODS.filter((m) => item[m]).forEach((m) => add(path, m, item[m], false)));
    Object.entries(doc.webhooks || {}).forEach(([name, item]) =>
      METHODS.filter((m) => item[m]).forEach((m) => add(name, m, item[m], true)));
    return [...byTag.values()].filter((group) => group.ops.length);
  }

  function title(entry) {
    const { method, path, webhook } = entry;
    return webhook ? `${method.toUpperCase()} (your endpoint) ${path}` : `${method.toUpperCase()} ${path}`;
  }

  function contents(groups) {
    return el("nav", { class: "toc", "aria-labelledby": "toc-title" }, [
      el("h2", { id: "toc-title" }, ["Contents"]),
      el("ol", {}, groups.map(({ tag, ops }) => el("li", {}, [
        el("a", { href: "#" + anchor("tag", tag.name) }, [tag.name]),
        el("ul", {}, ops.map((entry) => el("li", {}, [
          el("a", { href: "#" + entry.id }, [el("code", {}, [title(entry)])]),
          entry.op.summary ? [" — ", ...inline(entry.op.summary)] : "",
        ].flat()))),
      ]))),
    ]);
  }

  function parameters(params) {
    if (!params || !params.length) return [];
    const rows = params.map((p) => el("tr", {}, [
      el("td", {}, [el("code", {}, [p.name])]),
      el("td", {}, [p.in + (p.required ? "" : ", optional")]),
      el("td", {}, [p.schema ? schemaName(p.schema) : ""]),
      el("td", {}, [description(p.description)]),
    ]));
    return [el("h4", {}, ["Parameters"]), table(["name", "in", "type", "meaning"], rows)];
  }

  function requestBody(doc, op) {
    const media = op.requestBody && op.requestBody.content && op.requestBody.content["application/json"];
    if (!media) return [];
    const parts = [el("h4", {}, ["Request body: ", el("code", {}, [schemaName(media.schema)])])];
    if (op.requestBody.description) parts.push(description(op.requestBody.description));
    const shape = fields(doc, media.schema);
    if (shape) parts.push(shape);
    parts.push(sample("Example request body", mediaExample(doc, media)));
    return parts;
  }

  function responses(doc, op) {
    const entries = Object.entries(op.responses || {});
    const list = el("ul", { class: "responses" }, entries.map(([status, r]) => {
      const content = r.content && r.content["application/json"];
      return el("li", {}, [el("code", {}, [status]), " ", ...inline(r.description || ""),
        content ? " — " : "", content ? el("code", {}, [schemaName(content.schema)]) : ""]);
    }));
    const parts = [el("h4", {}, ["Responses"]), list];
    const success = entries.find(([status]) => /^2/.test(status));
    if (success) {
      const [status, r] = success;
      const media = r.content && r.content["application/json"];
      parts.push(media ? sample(`Example response (${status})`, mediaExample(doc, media))
        : el("p", { class: "help" }, [`A ${status} answer has no body.`]));
    }
    return parts;
  }

  function operation(doc, entry) {
    const { op } = entry;
    const section = el("section", { class: "operation", "aria-labelledby": entry.id }, [
      el("h3", { id: entry.id, tabindex: "-1" }, [el("code", {}, [title(entry)])]),
      el("p", { class: "summary" }, inline(op.summary || "")),
    ]);
    if (op.description) section.append(description(op.description));
    [...parameters(op.parameters), ...requestBody(doc, op), ...responses(doc, op)]
      .filter(Boolean)
      .forEach((part) => section.append(part));
    return section;
  }

  function introduction(doc) {
    const parts = [description((doc.info || {}).description)];
    Object.values((doc.components || {}).securitySchemes || {}).forEach((scheme) => {
      if (scheme.type !== "http" || scheme.scheme !== "bearer") return;
      parts.push(el("p", {}, ["Authenticate with ", el("code", {}, ["Authorization: Bearer <token>"]),
        ": ", ...inline(scheme.description || "")]));
    });
    return el("div", { class: "intro" }, parts);
  }

  function render(doc) {
    root.textContent = "";
    const groups = operations(doc);
    root.append(introduction(doc), contents(groups));
    groups.forEach(({ tag, ops }) => {
      const id = anchor("tag", tag.name);
      const section = el("section", { "aria-labelledby": id }, [el("h2", { id, tabindex: "-1" }, [tag.name])]);
      if (tag.description) section.append(description(tag.description));
      ops.forEach((entry) => section.append(operation(doc, entry)));
      root.append(section);
    });
    // The page was opened at an operation's anchor: it exists only now.
    if (location.hash) {
      const target = document.getElementById(decodeURIComponent(location.hash.slice(1)));
      if (target) target.scrollIntoView();
    }
  }

  fetch(source)
    .then((r) => {
      if (!r.ok) throw new Error(`${source} answered ${r.status}`);
      return r.json();
    })
    .then(render)
    .catch((e) => (root.textContent = "Could not load the document: " + e.message));
})();
