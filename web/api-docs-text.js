// What the API reference (api-docs.js) draws from an OpenAPI document besides its structure: the
// descriptions' markdown, as DOM nodes built from text (never parsed as HTML), and an example
// value for any schema. Loaded before api-docs.js; exposes window.GraphhookDocsText.
(function () {
  "use strict";

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
    (children || []).forEach((c) => node.append(c instanceof Node ? c : document.createTextNode(String(c))));
    return node;
  }

  // ---- Markdown: code spans, links, strong and emphasis, paragraphs and lists ----------------

  /** Only links to the web, to this site or within the page; anything else stays text. */
  function safeHref(url) {
    return /^(https?:\/\/|\/(?!\/)|#)/i.test(url) ? url : null;
  }

  const PUNCT = /[\s.,;:!?()[\]{}'"—–-]/;

  /** Whether `*` or `_` at `i` may open (or close) emphasis: next to a word, not inside one. */
  function flanks(text, i, opening) {
    const before = i === 0 ? " " : text[i - 1];
    const after = i + 1 >= text.length ? " " : text[i + 1];
    return opening ? PUNCT.test(before) && !/\s/.test(after) : !/\s/.test(before) && PUNCT.test(after);
  }

  /** Inline markdown as an array of nodes and strings (strings become text nodes). */
  function inline(text) {
    const out = [];
    let plain = "";
    const flush = () => {
      if (plain) out.push(plain);
      plain = "";
    };
    let i = 0;
    while (i < text.length) {
      const c = text[i];
      if (c === "\\" && i + 1 < text.length && /[\\`*_[\]()]/.test(text[i + 1])) {
        plain += text[i + 1];
        i += 2;
        continue;
      }
      if (c === "`") {
        const ticks = text.slice(i).match(/^`+/)[0];
        const end = text.indexOf(ticks, i + ticks.length);
        if (end > i) {
          flush();
          let code = text.slice(i + ticks.length, end);
          if (/^ .* $/.test(code)) code = code.slice(1, -1);
          out.push(el("code", {}, [code]));
          i = end + ticks.length;
          continue;
        }
      }
      if (c === "[") {
        const link = text.slice(i).match(/^\[([^\]]+)\]\(([^()\s]+)\)/);
        const href = link && safeHref(link[2]);
        if (href) {
          flush();
          out.push(el("a", { href }, inline(link[1])));
          i += link[0].length;
          continue;
        }
      }
      if ((c === "*" || c === "_") && text[i + 1] === c && flanks(text, i, true)) {
        const end = text.indexOf(c + c, i + 2);
        if (end > i + 2 && flanks(text, end + 1, false)) {
          flush();
          out.push(el("strong", {}, inline(text.slice(i + 2, end))));
          i = end + 2;
          continue;
        }
      }
      if ((c === "*" || c === "_") && flanks(text, i, true)) {
        let end = text.indexOf(c, i + 1);
        while (end > i && !flanks(text, end, false)) end = text.indexOf(c, end + 1);
        if (end > i + 1) {
          flush();
          out.push(el("em", {}, inline(text.slice(i + 1, end))));
          i = end + 1;
          continue;
        }
      }
      plain += c;
      i += 1;
    }
    flush();
    return out;
  }

  const ITEM = /^\s*(?:[-*]|\d+\.)\s+/;

  /** A description as block nodes: paragraphs (blank lines between them) and lists. */
  function blocks(text) {
    if (!text) return [];
    return String(text)
      .split(/\n\s*\n/)
      .map((chunk) => chunk.trim())
      .filter(Boolean)
      .map((chunk) => {
        const lines = chunk.split("\n");
        if (!ITEM.test(lines[0])) return el("p", {}, inline(lines.map((l) => l.trim()).join(" ")));
        const items = [];
        lines.forEach((line) => {
          if (ITEM.test(line) || !items.length) items.push(line.replace(ITEM, ""));
          else items[items.length - 1] += " " + line.trim();
        });
        const ordered = /^\s*\d+\./.test(lines[0]);
        return el(ordered ? "ol" : "ul", {}, items.map((item) => el("li", {}, inline(item))));
      });
  }

  // ---- Examples ------------------------------------------------------------------------------

  function resolve(doc, schema) {
    if (!schema || !schema.$ref) return schema;
    const name = schema.$ref.split("/").pop();
    return ((doc.components || {}).schemas || {})[name];
  }

  const STRINGS = {
    "date-time": "2025-01-31T09:30:00Z",
    date: "2025-01-31",
    time: "09:30:00Z",
    uuid: "0194c1a2-7b3c-7d4e-8f90-123456789abc",
    uri: "https://example.com/hooks",
    url: "https://example.com/hooks",
    email: "user@example.com",
    hostname: "example.com",
    ipv4: "192.0.2.10",
    byte: "aGVsbG8=",
    duration: "PT5M",
  };

  /** The schema's first type that is not "null". */
  function typeOf(schema) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    const type = types.find((t) => t && t !== "null");
    if (type) return type;
    if (schema.properties || schema.additionalProperties) return "object";
    if (schema.items) return "array";
    return types.includes("null") ? "null" : undefined;
  }

  /**
   * An example value for `schema`: its own `example` or `examples` where the document gives one,
   * otherwise one made from its types, enums, formats and bounds. `undefined` when nothing can
   * be said (an empty schema).
   */
  function example(doc, schema, depth = 0, seen = new Set()) {
    if (!schema || depth > 8) return undefined;
    if (schema.$ref) {
      if (seen.has(schema.$ref)) return {};
      const next = new Set(seen).add(schema.$ref);
      return example(doc, resolve(doc, schema), depth + 1, next);
    }
    if ("example" in schema) return schema.example;
    if (Array.isArray(schema.examples) && schema.examples.length) return schema.examples[0];
    if ("const" in schema) return schema.const;
    if ("default" in schema && schema.default !== null) return schema.default;
    if (Array.isArray(schema.enum) && schema.enum.length) {
      const value = schema.enum.find((v) => v !== null);
      return value === undefined ? null : value;
    }
    if (Array.isArray(schema.allOf)) {
      const parts = schema.allOf.map((s) => example(doc, s, depth + 1, seen));
      if (parts.every((p) => p && typeof p === "object" && !Array.isArray(p))) return Object.assign({}, ...parts);
      return parts.find((p) => p !== undefined);
    }
    const alternatives = schema.oneOf || schema.anyOf;
    if (Array.isArray(alternatives)) {
      const chosen = alternatives.find((s) => typeOf(resolve(doc, s) || {}) !== "null") || alternatives[0];
      return example(doc, chosen, depth + 1, seen);
    }
    switch (typeOf(schema)) {
      case "object": {
        const value = {};
        // A property of any type (no schema but its description) still shows where it goes.
        Object.entries(schema.properties || {}).forEach(([name, property]) => {
          const v = example(doc, property, depth + 1, seen);
          value[name] = v === undefined ? "…" : v;
        });
        if (!schema.properties && schema.additionalProperties && typeof schema.additionalProperties === "object") {
          const v = example(doc, schema.additionalProperties, depth + 1, seen);
          value.key = v === undefined ? "value" : v;
        }
        return value;
      }
      case "array": {
        const item = example(doc, schema.items, depth + 1, seen);
        return item === undefined ? [] : [item];
      }
      case "string":
        return STRINGS[schema.format] || (schema.pattern ? `(matching ${schema.pattern})` : "string");
      case "integer":
        return schema.minimum !== undefined ? schema.minimum : 0;
      case "number":
        return schema.minimum !== undefined ? schema.minimum : 0.5;
      case "boolean":
        return true;
      case "null":
        return null;
      default:
        return undefined;
    }
  }

  /** A media type's example: its own `example` or first `examples` value, else its schema's. */
  function mediaExample(doc, media) {
    if (!media) return undefined;
    if ("example" in media) return media.example;
    const given = Object.values(media.examples || {}).find((e) => e && "value" in e);
    if (given) return given.value;
    return example(doc, media.schema);
  }

  /** JSON as JSON.stringify(value, null, 2) writes it, but a short list of scalars on one line. */
  function json(value, pad = "") {
    const inner = pad + "  ";
    if (Array.isArray(value)) {
      if (!value.length) return "[]";
      if (value.every((v) => v === null || typeof v !== "object")) {
        const line = "[" + value.map((v) => JSON.stringify(v)).join(", ") + "]";
        if (line.length <= 60) return line;
      }
      return "[\n" + value.map((v) => inner + json(v, inner)).join(",\n") + "\n" + pad + "]";
    }
    if (value && typeof value === "object") {
      const keys = Object.keys(value);
      if (!keys.length) return "{}";
      return "{\n" + keys.map((k) => inner + JSON.stringify(k) + ": " + json(value[k], inner)).join(",\n") + "\n" + pad + "}";
    }
    return JSON.stringify(value);
  }

  window.GraphhookDocsText = { el, inline, blocks, resolve, example, mediaExample, json };
})();
