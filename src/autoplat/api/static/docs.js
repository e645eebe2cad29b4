// Renders /openapi.json as a readable reference. Self-contained: no CDN, no framework.
// Every string from the spec goes through text nodes (never innerHTML).
"use strict";

const METHODS = ["get", "post", "put", "patch", "delete"];
let SPEC = null;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// A little inline Markdown (`code` and **bold**), built as DOM nodes, never as HTML.
function markdown(text) {
  const out = [];
  const pattern = /``?([^`]+)``?|\*\*([^*]+)\*\*/g;
  let last = 0;
  let match;
  while ((match = pattern.exec(text)) !== null) {
    if (match.index > last) out.push(text.slice(last, match.index));
    out.push(match[1] !== undefined ? el("code", {}, match[1]) : el("strong", {}, match[2]));
    last = pattern.lastIndex;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

function paragraphs(text) {
  return (text || "").split(/\n\s*\n/).filter((p) => p.trim()).map((p) => el("p", {}, markdown(p.trim())));
}

function resolve(schema) {
  let seen = 0;
  while (schema && schema.$ref && seen++ < 20) {
    const name = schema.$ref.split("/").pop();
    schema = Object.assign({ __name: name }, SPEC.components.schemas[name] || {});
  }
  return schema || {};
}

function typeName(schema) {
  if (!schema) return "any";
  if (schema.$ref) return schema.$ref.split("/").pop();
  if (schema.anyOf || schema.oneOf) return (schema.anyOf || schema.oneOf).map(typeName).join(" | ");
  if (schema.allOf) return schema.allOf.map(typeName).join(" & ");
  if (schema.enum) return schema.enum.map((v) => JSON.stringify(v)).join(" | ");
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  if (schema.type === "array") return typeName(schema.items) + "[]";
  if (Array.isArray(schema.type)) return schema.type.join(" | ");
  if (schema.type === "object" && schema.additionalProperties && !schema.properties)
    return "{string: " + typeName(schema.additionalProperties) + "}";
  return schema.type || "any";
}

function constraints(schema) {
  const out = [];
  for (const key of ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength",
    "maxLength", "minItems", "maxItems", "pattern", "format"]) {
    if (schema[key] !== undefined) out.push(`${key}: ${schema[key]}`);
  }
  if (schema.default !== undefined) out.push("default: " + JSON.stringify(schema.default));
  const values = schema.enum || (schema.type === "array" && resolve(schema.items).enum);
  if (values && values.length > 1) out.push("one of: " + values.join(", "));
  return out.join(", ");
}

// A nested, expandable view of a schema; depth-limited so recursive models terminate.
function schemaTree(schema, depth) {
  const resolved = resolve(schema);
  const children = [];
  if (depth > 6) return el("span", { class: "d" }, " …");
  const variants = resolved.anyOf || resolved.oneOf;
  if (variants && variants.some((v) => resolve(v).properties)) {
    for (const variant of variants) {
      children.push(el("li", {}, el("span", { class: "type" }, typeName(variant)), schemaTree(variant, depth + 1)));
    }
    return el("ul", {}, children);
  }
  if (resolved.type === "array" && resolved.items) return schemaTree(resolved.items, depth + 1);
  const props = resolved.properties || {};
  const required = new Set(resolved.required || []);
  for (const [name, prop] of Object.entries(props)) {
    const inner = resolve(prop);
    const nested = inner.properties || (inner.type === "array" && resolve(inner.items).properties)
      || (inner.anyOf || []).some((v) => resolve(v).properties);
    const extra = constraints(inner);
    children.push(el("li", {},
      el("span", { class: "k" }, name), required.has(name) ? el("span", { class: "req" }, "required") : null,
      ": ", el("span", { class: "type" }, typeName(prop)),
      extra ? el("span", { class: "d" }, "  (" + extra + ")") : null,
      inner.description || prop.description ? el("span", { class: "d" }, " — ", markdown(prop.description || inner.description)) : null,
      nested ? schemaTree(prop, depth + 1) : null));
  }
  if (resolved.additionalProperties && typeof resolved.additionalProperties === "object" && !resolved.properties) {
    children.push(el("li", {}, el("span", { class: "k" }, "<key>"), ": ", el("span", { class: "type" }, typeName(resolved.additionalProperties))));
  }
  return children.length ? el("ul", {}, children) : el("span");
}

function schemaBlock(schema) {
  return el("div", { class: "schema" }, el("span", { class: "type" }, typeName(schema)), schemaTree(schema, 0));
}

function anchor(method, path) {
  return "op-" + method + "-" + path.replace(/[^a-zA-Z0-9]+/g, "-");
}

function credentialHeaders() {
  const value = document.getElementById("token").value.trim();
  if (!value) return {};
  // JWTs have two dots; anything else is taken as an API key.
  return value.split(".").length === 3 ? { Authorization: "Bearer " + value } : { "X-API-Key": value };
}

function tryIt(method, path, op) {
  const params = op.parameters || [];
  const inputs = {};
  const rows = params.map((p) => {
    inputs[p.name] = el("input", { placeholder: typeName(p.schema), "aria-label": p.name });
    return el("tr", {}, el("td", {}, el("code", {}, p.name), el("span", { class: "d" }, " (" + p.in + ")")), el("td", {}, inputs[p.name]));
  });
  const body = op.requestBody ? el("textarea", { "aria-label": "request body" }, "{\n}") : null;
  const output = el("pre", { class: "hidden" });
  async function send() {
    let url = path;
    const query = new URLSearchParams();
    for (const p of params) {
      const value = inputs[p.name].value;
      if (p.in === "path") url = url.replace("{" + p.name + "}", encodeURIComponent(value));
      else if (value !== "") query.append(p.name, value);
    }
    if ([...query].length) url += "?" + query;
    const headers = credentialHeaders();
    const init = { method: method.toUpperCase(), headers };
    if (body) { headers["Content-Type"] = "application/json"; init.body = body.value; }
    output.classList.remove("hidden");
    output.textContent = "…";
    try {
      const response = await fetch(url, init);
      const text = await response.text();
      let shown = text;
      try { shown = JSON.stringify(JSON.parse(text), null, 2); } catch (e) { /* not JSON */ }
      output.textContent = `${response.status} ${response.statusText}\n\n${shown}`;
    } catch (err) {
      output.textContent = String(err);
    }
  }
  return el("details", { class: "try" }, el("summary", {}, "Try it"),
    rows.length ? el("table", {}, rows) : null, body, el("button", { onclick: send }, "Send"), output);
}

function operation(method, path, op) {
  const body = el("div", { class: "body" });
  if (op.description) body.append(...paragraphs(op.description));
  const params = op.parameters || [];
  if (params.length) {
    body.append(el("h4", {}, "Parameters"), el("table", {},
      el("tr", {}, el("th", {}, "name"), el("th", {}, "in"), el("th", {}, "type"), el("th", {}, "notes")),
      params.map((p) => el("tr", {},
        el("td", {}, el("code", {}, p.name), p.required ? el("span", { class: "req" }, "required") : null),
        el("td", {}, p.in), el("td", {}, el("span", { class: "type" }, typeName(p.schema))),
        el("td", {}, [p.description, constraints(resolve(p.schema))].filter(Boolean).join(" — "))))));
  }
  if (op.requestBody) {
    const media = op.requestBody.content["application/json"];
    body.append(el("h4", {}, "Request body (application/json)"), schemaBlock(media.schema));
  }
  body.append(el("h4", {}, "Responses"));
  const table = el("table", {});
  let errorShown = false;
  for (const [status, response] of Object.entries(op.responses || {})) {
    const media = response.content && response.content["application/json"];
    let shape = null;
    if (media && status >= "400") {
      // Every error has the same envelope: draw it once, then name it.
      shape = errorShown ? el("span", { class: "type" }, " " + typeName(media.schema)) : schemaBlock(media.schema);
      errorShown = true;
    } else if (media) {
      shape = schemaBlock(media.schema);
    }
    table.append(el("tr", {}, el("td", { class: "status s" + status[0] }, status), el("td", {}, response.description || "", shape)));
  }
  body.append(table, tryIt(method, path, op));
  const secured = (op.security || SPEC.security || []).length > 0;
  const access = op["x-admin"] ? "admin" : op["x-permission"] || (secured ? "auth" : "public");
  return el("details", { class: "op", id: anchor(method, path), "data-search": [method, path, op.summary, (op.tags || []).join(" ")].join(" ").toLowerCase() },
    el("summary", {}, el("span", { class: "method m-" + method }, method), el("span", { class: "path" }, path),
      el("span", { class: "summary" }, op.summary || ""),
      el("span", { class: "lock", title: "API keys need this permission" }, access)),
    body);
}

function render(spec) {
  SPEC = spec;
  document.title = spec.info.title + " API reference";
  document.getElementById("title").textContent = `${spec.info.title} ${spec.info.version} — API reference`;
  const groups = new Map();
  for (const [path, item] of Object.entries(spec.paths)) {
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      const tag = (op.tags && op.tags[0]) || "other";
      if (!groups.has(tag)) groups.set(tag, []);
      groups.get(tag).push([method, path, op]);
    }
  }
  const main = document.getElementById("main");
  const nav = document.getElementById("nav");
  main.replaceChildren(el("div", { class: "intro" }, paragraphs(spec.info.description)));
  nav.replaceChildren();
  for (const tag of [...groups.keys()].sort()) {
    const section = el("section", { class: "tag" }, el("h2", {}, tag));
    const group = el("div", { class: "navgroup" }, el("h3", {}, tag));
    nav.append(group);
    for (const [method, path, op] of groups.get(tag)) {
      section.append(operation(method, path, op));
      group.append(el("a", { href: "#" + anchor(method, path), "data-search": [method, path, op.summary, tag].join(" ").toLowerCase() },
        el("span", { class: "method small m-" + method }, method), path));
    }
    main.append(section);
  }
  const filter = document.getElementById("filter");
  filter.addEventListener("input", () => {
    const words = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
    for (const node of document.querySelectorAll("[data-search]")) {
      const text = node.getAttribute("data-search");
      node.classList.toggle("hidden", !words.every((w) => text.includes(w)));
    }
    // A filter that leaves a few routes opens them: `/docs?q=api-keys permissions` links there.
    const shown = [...document.querySelectorAll("details.op:not(.hidden)")];
    if (words.length && shown.length <= 3) shown.forEach((node) => { node.open = true; });
    for (const group of document.querySelectorAll(".navgroup")) {
      group.classList.toggle("hidden", !group.querySelector("a:not(.hidden)"));
    }
    for (const section of document.querySelectorAll("section.tag")) {
      section.classList.toggle("hidden", !section.querySelector("details.op:not(.hidden)"));
    }
  });
  const query = new URLSearchParams(location.search).get("q");
  if (query) { filter.value = query; filter.dispatchEvent(new Event("input")); }
  if (location.hash) {
    const target = document.getElementById(location.hash.slice(1));
    if (target) { target.open = true; target.scrollIntoView(); }
  }
}

fetch("/openapi.json")
  .then((response) => response.json())
  .then(render)
  .catch((err) => {
    document.getElementById("main").replaceChildren(el("p", {}, "Could not load /openapi.json: " + err));
  });
