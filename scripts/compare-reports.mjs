#!/usr/bin/env node
// Records the JSON reports of the built CLI over the shared corpora and the engine's fixtures, or compares a
// fresh set with a recorded one. A refactor that must not change behaviour records a set before the change and
// compares after it: any byte of difference (outside timings) exits 1.
//
//   node scripts/compare-reports.mjs record <dir>    write one normalised report per target into <dir>
//   node scripts/compare-reports.mjs compare <dir>   scan again and compare with <dir>; exit 1 on any difference
//
// Targets that do not exist (a bare clone without ../shared) are left out visibly.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const cli = join(root, "packages/cli/bin/modelvet.js");

/** Report name → target folder, relative to the repository root (paths in reports stay relative to it). */
const TARGETS = {
  corpus: "../shared/corpus",
  "corpus-benign": "../shared/corpus-benign",
  fixtures: "packages/engine/test/fixtures",
  "benign-breadth": "packages/engine/test/benign-breadth",
};

/** Keys whose values are wall-clock measurements: they differ run to run and are no part of the verdict. */
const TIMING_KEY = /(^|_)(duration|elapsed|ms|seconds|time|timestamp)(_|$)/i;

function normalise(value) {
  if (Array.isArray(value)) return value.map(normalise);
  if (value === null || typeof value !== "object") return value;
  const out = {};
  for (const [key, inner] of Object.entries(value)) {
    if (!TIMING_KEY.test(key)) out[key] = normalise(inner);
  }
  return out;
}

/** Files are scanned concurrently; order them by path so the comparison sees verdicts, not scheduling. */
function sortByPath(report) {
  for (const key of ["file_security_reports", "scanned_files"]) {
    if (Array.isArray(report[key])) report[key].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }
  return report;
}

function scanTarget(target) {
  const run = spawnSync(process.execPath, [cli, "scan", "--format", "json", "--no-cache", "--no-progress", target], {
    cwd: root,
    encoding: "utf8",
    maxBuffer: 1 << 30,
  });
  if (run.error) throw run.error;
  if (!run.stdout) throw new Error(`no report for ${target} (exit ${run.status}): ${run.stderr}`);
  const report = sortByPath(normalise(JSON.parse(run.stdout)));
  return JSON.stringify({ exit_code: run.status, report }, null, 2) + "\n";
}

function writeSet(dir) {
  mkdirSync(dir, { recursive: true });
  const written = [];
  for (const [name, target] of Object.entries(TARGETS)) {
    if (!existsSync(join(root, target))) {
      console.log(`skip ${name}: ${target} is missing`);
      continue;
    }
    writeFileSync(join(dir, `${name}.json`), scanTarget(target));
    written.push(name);
  }
  return written;
}

function firstDifference(a, b) {
  const la = a.split("\n");
  const lb = b.split("\n");
  for (let i = 0; i < Math.max(la.length, lb.length); i++) {
    if (la[i] !== lb[i]) return `line ${i + 1}:\n  before: ${la[i] ?? "<end>"}\n  after:  ${lb[i] ?? "<end>"}`;
  }
  return "no line differs";
}

const [mode, dirArg] = process.argv.slice(2);
if (!dirArg || (mode !== "record" && mode !== "compare")) {
  console.error("usage: compare-reports.mjs record|compare <dir>");
  process.exit(2);
}
const dir = resolve(dirArg);
if (mode === "record") {
  console.log(`recorded ${writeSet(dir).join(", ")} in ${dir}`);
} else {
  const fresh = mkdtempSync(join(tmpdir(), "modelvet-reports-"));
  let differences = 0;
  try {
    for (const name of writeSet(fresh)) {
      const beforePath = join(dir, `${name}.json`);
      if (!existsSync(beforePath)) {
        console.log(`DIFF ${name}: no recorded report`);
        differences++;
        continue;
      }
      const before = readFileSync(beforePath, "utf8");
      const after = readFileSync(join(fresh, `${name}.json`), "utf8");
      if (before === after) console.log(`same ${name}`);
      else {
        console.log(`DIFF ${name}: ${firstDifference(before, after)}`);
        differences++;
      }
    }
  } finally {
    rmSync(fresh, { recursive: true, force: true });
  }
  process.exit(differences === 0 ? 0 : 1);
}
