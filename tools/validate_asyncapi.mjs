#!/usr/bin/env node
// Validate AsyncAPI documents with the official @asyncapi/parser (3.x).
//
//   node tools/validate_asyncapi.mjs contracts/mqtt_client_api.yaml [more.yaml ...]
//
// Prints every diagnostic as `file: severity code at json.path: message` and exits 1 when any
// document has an error-severity diagnostic (or cannot be read/parsed), 0 otherwise.
// `nox -s contract` installs the parser into .cache/asyncapi-parser and passes NODE_PATH;
// ESM ignores NODE_PATH, so the module is resolved explicitly from there.

import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const SEVERITY = ["error", "warning", "info", "hint"];
const here = path.dirname(fileURLToPath(import.meta.url));

function loadParser() {
  const roots = [
    ...(process.env.NODE_PATH || "").split(path.delimiter).filter(Boolean),
    path.join(here, "..", ".cache", "asyncapi-parser", "node_modules"),
  ];
  const errors = [];
  for (const root of roots) {
    try {
      return createRequire(path.join(path.resolve(root), "_resolve.js"))("@asyncapi/parser");
    } catch (err) {
      errors.push(`${root}: ${err.message.split("\n")[0]}`);
    }
  }
  try {
    return createRequire(import.meta.url)("@asyncapi/parser");
  } catch (err) {
    errors.push(`default resolution: ${err.message.split("\n")[0]}`);
  }
  console.error("cannot load @asyncapi/parser (run `nox -s contract` to install it):");
  for (const e of errors) console.error(`  ${e}`);
  process.exit(2);
}

function formatPath(p) {
  if (!p || p.length === 0) return "$";
  return p.map((seg) => (typeof seg === "number" ? `[${seg}]` : `/${seg}`)).join("");
}

async function main(files) {
  if (files.length === 0) {
    console.error("usage: node tools/validate_asyncapi.mjs FILE [FILE ...]");
    return 2;
  }
  const { Parser, fromFile } = loadParser();
  const parser = new Parser();
  let failed = false;
  for (const file of files) {
    let result;
    try {
      result = await fromFile(parser, path.resolve(file)).parse();
    } catch (err) {
      console.error(`${file}: error: cannot parse: ${err.message}`);
      failed = true;
      continue;
    }
    const diagnostics = result.diagnostics || [];
    const counts = [0, 0, 0, 0];
    for (const d of diagnostics) {
      const sev = SEVERITY[d.severity] ?? String(d.severity);
      counts[d.severity] = (counts[d.severity] || 0) + 1;
      const line = d.range ? `:${d.range.start.line + 1}` : "";
      const source = d.source && path.resolve(d.source) !== path.resolve(file) ? ` (in ${d.source})` : "";
      const out = `${file}${line}: ${sev} ${d.code} at ${formatPath(d.path)}${source}: ${d.message}`;
      (d.severity === 0 ? console.error : console.log)(out);
    }
    const ok = counts[0] === 0 && result.document !== undefined;
    if (!ok) failed = true;
    console.log(
      `${file}: ${ok ? "VALID" : "INVALID"} (${counts[0]} errors, ${counts[1]} warnings, ` +
        `${counts[2] + counts[3]} info/hints)`,
    );
  }
  return failed ? 1 : 0;
}

process.exitCode = await main(process.argv.slice(2));
