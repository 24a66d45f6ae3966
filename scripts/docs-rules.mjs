// Writes docs/rules/<id>.md for every rule of the built-in pack that can produce a finding, and an index.
// `--check` writes nothing and exits 1 when a page is missing, stale or left over (used by the test suite).
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { documentedRules, loadBuiltinPack, renderRuleDoc, renderRuleIndex } from "@modelvet/engine";

const dir = join(import.meta.dirname, "..", "docs", "rules");
const check = process.argv.includes("--check");
const pack = await loadBuiltinPack();
const docs = documentedRules(pack);
const wanted = new Map(docs.map((d) => [`${d.id}.md`, renderRuleDoc(d, pack.version)]));
wanted.set("README.md", renderRuleIndex(docs, pack.version));

await mkdir(dir, { recursive: true });
const present = new Set((await readdir(dir)).filter((f) => f.endsWith(".md")));
const drift = [];
for (const [name, text] of wanted) {
  const current = present.has(name) ? await readFile(join(dir, name), "utf8") : undefined;
  if (current === text) continue;
  drift.push(current === undefined ? `missing ${name}` : `stale ${name}`);
  if (!check) await writeFile(join(dir, name), text);
}
for (const name of present)
  if (!wanted.has(name)) {
    drift.push(`left over ${name}`);
    if (!check) await rm(join(dir, name));
  }
if (check && drift.length > 0) {
  console.error(
    `docs/rules drifted from the rules pack (run npm run docs:rules):\n  ${drift.slice(0, 20).join("\n  ")}`,
  );
  process.exit(1);
}
console.log(`${wanted.size} pages ${check ? "checked" : `written (${drift.length} changed)`}`);
