// Rewrites every README sample marked `<!-- sample: modelvet ARGS -->` with the output of a real run of that
// command (fresh cache, no colour). `--check` writes nothing and exits 1 when a sample drifted; durations are the
// only part allowed to differ.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = join(import.meta.dirname, "..");
const readme = join(root, "README.md");
const check = process.argv.includes("--check");
const SAMPLE = /<!-- sample: modelvet ([^>]*?) -->\n```(\w*)\n[\s\S]*?```/g;
const masked = (text) => text.replace(/in \d+\.\d+ s;/g, "in N s;");

function run(args) {
  const result = spawnSync(process.execPath, [join(root, "packages", "cli", "bin", "modelvet.js"), ...args], {
    cwd: root,
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1", XDG_CACHE_HOME: mkdtempSync(join(tmpdir(), "modelvet-sample-")) },
  });
  return result.stdout + result.stderr;
}

const before = readFileSync(readme, "utf8");
const drifted = [];
const after = before.replace(SAMPLE, (block, args, lang) => {
  const fresh = `<!-- sample: modelvet ${args} -->\n\`\`\`${lang}\n${run(args.split(" "))}\`\`\``;
  if (masked(fresh) !== masked(block)) drifted.push(`modelvet ${args}`);
  return fresh;
});
if (check) {
  if (drifted.length > 0) {
    console.error(`README samples drifted (run npm run docs:samples): ${drifted.join(", ")}`);
    process.exit(1);
  }
} else writeFileSync(readme, after);
console.log(`${drifted.length} README sample(s) ${check ? "drifted" : "rewritten"}`);
