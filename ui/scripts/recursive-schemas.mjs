// After openapi-typescript: a schema that refers to itself (JsonValue: an array or object of
// JsonValue) becomes a named recursive type alias. TypeScript refuses the generated form,
// `JsonValue: ... components["schemas"]["JsonValue"][] ...`, as a circular reference
// (TS2502), but accepts the same union as `type JsonValue = ... JsonValue[] ...`.
import { readFileSync, writeFileSync } from "node:fs";

const file = process.argv[2];
const lines = readFileSync(file, "utf8").split("\n");
const start = lines.findIndex((l) => l === "    schemas: {");
if (start < 0) process.exit(0);
const aliases = [];
let i = start + 1;
while (i < lines.length && lines[i] !== "    };") {
  const m = /^ {8}(\w+): (.*)$/.exec(lines[i]);
  if (!m) {
    i++;
    continue;
  }
  // The definition runs until the next schema (its comment or its name) or the end.
  let end = i + 1;
  while (end < lines.length && !/^ {8}(\/\*\*|\w+:)/.test(lines[end]) && lines[end] !== "    };") end++;
  const name = m[1];
  const self = `components["schemas"]["${name}"]`;
  const body = [m[2], ...lines.slice(i + 1, end)].join("\n");
  if (body.includes(self)) {
    const alias = `Recursive${name}`;
    aliases.push(`export type ${alias} = ${body.split(self).join(alias).replace(/;\s*$/, "")};`);
    lines.splice(i, end - i, `        ${name}: ${alias};`);
    i++;
  } else i = end;
}
if (aliases.length) writeFileSync(file, [...lines, ...aliases, ""].join("\n"));
