// Renders /v2/openapi.json as a readable page: one section per tag, one entry per
// operation with its parameters, request body and responses. No framework, no build step.

const $ = (id) => document.getElementById(id);

function el(tag, text, attrs = {}) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

/** Follows a local `$ref` ("#/components/…"). */
function resolve(doc, node) {
  let seen = 0;
  while (node && node.$ref && seen++ < 20) {
    node = node.$ref.slice(2).split("/").reduce((at, key) => at[key], doc);
  }
  return node;
}

/** A schema as an indented outline: refs inlined once, cycles cut. */
function outline(doc, schema, depth = 0, trail = []) {
  if (!schema) return "";
  const pad = "  ".repeat(depth);
  if (schema.$ref) {
    const name = schema.$ref.split("/").pop();
    if (trail.includes(name) || depth > 6) return `${pad}${name}\n`;
    return outline(doc, resolve(doc, schema), depth, [...trail, name]);
  }
  for (const key of ["oneOf", "anyOf"]) {
    if (schema[key]) {
      return `${pad}${key === "oneOf" ? "one of" : "any of"}:\n` +
        schema[key].map((s) => outline(doc, s, depth + 1, trail)).join("");
    }
  }
  const type = [].concat(schema.type || "any").join(" | ");
  const facts = [];
  for (const k of ["format", "minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems", "pattern", "default"]) {
    if (schema[k] !== undefined) facts.push(`${k} ${JSON.stringify(schema[k])}`);
  }
  if (schema.enum) facts.push(`one of ${schema.enum.map((v) => JSON.stringify(v)).join(", ")}`);
  let text = `${type}${facts.length ? ` (${facts.join("; ")})` : ""}${schema.description ? ` — ${schema.description}` : ""}\n`;
  if (schema.properties) {
    const required = new Set(schema.required || []);
    for (const [name, prop] of Object.entries(schema.properties)) {
      text += `${pad}  ${name}${required.has(name) ? "" : "?"}: ` +
        outline(doc, prop, depth + 1, trail).trimStart();
    }
  }
  if (schema.items) text += `${pad}  items: ` + outline(doc, schema.items, depth + 1, trail).trimStart();
  return depth === 0 ? text : `${pad}${text}`;
}

function operation(doc, path, method, op) {
  const box = el("details", undefined, { "data-path": path, "data-method": method, id: op.operationId || "" });
  const head = el("summary");
  head.append(el("span", method.toUpperCase(), { class: `method ${method}` }), el("code", path),
    " ", el("span", op.summary || ""));
  box.append(head);
  if (op.description) box.append(el("p", op.description));
  const params = (op.parameters || []).map((p) => resolve(doc, p));
  if (params.length) {
    const table = el("table");
    table.append(el("caption", "Parameters"));
    const headRow = el("tr");
    for (const h of ["Name", "In", "Required", "Schema", "Description"]) headRow.append(el("th", h, { scope: "col" }));
    table.append(headRow);
    for (const p of params) {
      const row = el("tr");
      row.append(el("td", p.name), el("td", p.in), el("td", p.required ? "yes" : "no"),
        el("td", outline(doc, p.schema).trim()), el("td", p.description || ""));
      table.append(row);
    }
    box.append(table);
  }
  if (op.requestBody) {
    const body = resolve(doc, op.requestBody);
    for (const [type, media] of Object.entries(body.content || {})) {
      box.append(el("h4", `Request body (${type})`), el("pre", outline(doc, media.schema)));
    }
  }
  box.append(el("h4", "Responses"));
  for (const [status, raw] of Object.entries(op.responses || {})) {
    const response = resolve(doc, raw);
    box.append(el("p", `${status}: ${response.description || ""}`));
    for (const [type, media] of Object.entries(response.content || {})) {
      if (media.schema) box.append(el("pre", `${type}\n${outline(doc, media.schema)}`));
    }
  }
  return box;
}

function render(doc) {
  document.title = `${doc.info.title} ${doc.info.version}`;
  $("title").textContent = `${doc.info.title} ${doc.info.version}`;
  $("summary").textContent = doc.info.description || "";
  const byTag = new Map((doc.tags || []).map((t) => [t.name, []]));
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of ["get", "head", "put", "post", "patch", "delete"]) {
      const op = item[method];
      if (!op) continue;
      const tag = (op.tags || ["other"])[0];
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push(operation(doc, path, method, op));
    }
  }
  const main = $("operations");
  for (const [tag, ops] of byTag) {
    if (!ops.length) continue;
    const id = `tag-${tag.replace(/\W+/g, "-")}`;
    const section = el("section", undefined, { id });
    const info = (doc.tags || []).find((t) => t.name === tag);
    section.append(el("h2", tag));
    if (info && info.description) section.append(el("p", info.description));
    section.append(...ops);
    main.append(section);
    const link = el("a", tag, { href: `#${id}` });
    $("toc").append(link);
  }
  $("filter").oninput = () => {
    const words = $("filter").value.trim().toLowerCase();
    for (const box of main.querySelectorAll("details")) {
      box.hidden = words && !box.textContent.toLowerCase().includes(words);
    }
  };
}

fetch("/v2/openapi.json")
  .then((r) => r.json())
  .then(render)
  .catch((e) => ($("summary").textContent = `Cannot load /v2/openapi.json: ${e}`));
