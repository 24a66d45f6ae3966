#!/usr/bin/env node
// Fails when an engine source file grows past 600 lines: a file that large holds more than one concern and is
// split along its seams (docs/ARCHITECTURE.md). Tests and generated files are not checked.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const MAX_LINES = 600;
const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const src = join(root, "packages", "engine", "src");

const tooLong = readdirSync(src, { recursive: true, encoding: "utf8" })
  .filter((name) => name.endsWith(".ts") && !name.endsWith(".d.ts"))
  .map((name) => ({ name, lines: readFileSync(join(src, name), "utf8").split("\n").length - 1 }))
  .filter((file) => file.lines > MAX_LINES);

for (const file of tooLong)
  console.error(`${relative(root, join(src, file.name))}: ${file.lines} lines (at most ${MAX_LINES})`);
process.exit(tooLong.length > 0 ? 1 : 0);
