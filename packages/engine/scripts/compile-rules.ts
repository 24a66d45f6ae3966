// Compiles the built-in rules pack (rules/manifest.json and the files it lists) into rules/pack.compiled.json,
// the one file the engine reads at start-up. Run after editing a rules file: `npm run rules:compile`.
// The rules test fails while the compiled file differs from its sources.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { builtinRulesDir, compilePack, COMPILED_PACK_FILE, loadPackDir } from "../src/policy/rules.js";

const pack = await loadPackDir(builtinRulesDir());
const path = join(builtinRulesDir(), COMPILED_PACK_FILE);
writeFileSync(path, JSON.stringify(compilePack(pack)) + "\n");
console.log(`wrote ${path}: ${pack.rules.length} rules, ${pack.indicators.size} indicators`);
