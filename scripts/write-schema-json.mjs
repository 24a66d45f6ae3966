#!/usr/bin/env node
// Writes packages/schema/dist/schemas.json: every schema @modelvet/schema exports, by name, as plain JSON Schema,
// for clients in other languages (the Python SDK's tests validate its records against it). Run after `tsc -b`.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import * as schemas from "../packages/schema/dist/index.js";

const dist = join(import.meta.dirname, "..", "packages", "schema", "dist");
// A JSON round trip keeps what JSON Schema reads and drops TypeBox's symbol-keyed bookkeeping.
const named = Object.fromEntries(
  Object.entries(schemas)
    .filter(([, value]) => value && typeof value === "object" && ("type" in value || "anyOf" in value))
    .sort(([a], [b]) => a.localeCompare(b)),
);
const document = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  description: "The JSON shapes of modelvet's reports and HTTP API (@modelvet/schema)",
  $defs: JSON.parse(JSON.stringify(named)),
};
writeFileSync(join(dist, "schemas.json"), JSON.stringify(document, null, 2) + "\n");
console.log(`@modelvet/schema: ${Object.keys(named).length} schemas in dist/schemas.json`);
