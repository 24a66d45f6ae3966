// Prints the deny candidates the built pack already grades Alert, one a line (input of accept.py), and a summary
// of the others on stderr. Run after `npx tsc -b tsconfig.build.json`.
import { readFileSync } from "node:fs";
import { loadBuiltinPack } from "../../packages/engine/dist/policy/rules.js";
import { Classifier } from "../../packages/engine/dist/policy/classify.js";

const classifier = new Classifier(await loadBuiltinPack());
const { deny_candidates: candidates } = JSON.parse(readFileSync(process.argv[2], "utf8"));
const counts = { 1: 0, 2: 0, 3: 0 };
for (const { callable } of candidates) {
  const dot = callable.lastIndexOf(".");
  const { severity, rule } = classifier.classify(callable.slice(0, dot), callable.slice(dot + 1));
  counts[severity]++;
  if (severity === 3 && !rule?.id.startsWith("deny-derived-")) console.log(callable);
}
console.error(`candidates ${candidates.length}: Pass ${counts[1]}, Warning ${counts[2]}, Alert ${counts[3]}`);
