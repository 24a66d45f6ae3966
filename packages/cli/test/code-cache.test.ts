import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// bin/bundle.js runs the CLI's bundle from V8's code cache and stores one when none fits the build and the Node.
// Each test works on a copy of the CLI (bin/, the bundle, package.json) inside the repository, so that the copy
// still resolves @modelvet/engine and its libraries, and so that no other test's runs touch its cache. Worker
// threads load the same bundle through bin/scan-worker.js: cli-jobs.test.ts checks their reports.

const ROOT = join(import.meta.dirname, "..", "..", "..");
const CLI_ROOT = join(ROOT, "packages", "cli");
/** A protocol-2 pickle of `{"a": [1, 2, 3]}`, and one whose GLOBAL is os.system. */
const TINY = Buffer.from("80027d710058010000006171015d7102284b014b024b0365732e", "hex");
const PAYLOAD = Buffer.from("8002636f730a73797374656d0a710058070000006563686f20686971018571025271032e", "hex");

let copy: string;
let work: string;
beforeAll(() => {
  copy = mkdtempSync(join(CLI_ROOT, ".code-cache-test-"));
  for (const part of ["bin", "package.json"]) cpSync(join(CLI_ROOT, part), join(copy, part), { recursive: true });
  cpSync(join(CLI_ROOT, "dist", "bundle", "modelvet.cjs"), join(copy, "dist", "bundle", "modelvet.cjs"));
  work = join(copy, "files");
  mkdirSync(work);
  writeFileSync(join(work, "tiny.pkl"), TINY);
  for (let i = 0; i < 12; i++) writeFileSync(join(work, `f${i}.pkl`), i === 7 ? PAYLOAD : TINY);
});
afterAll(() => rmSync(copy, { recursive: true, force: true }));

const bundleDir = (): string => join(copy, "dist", "bundle");
const cacheFiles = (): string[] => readdirSync(bundleDir()).filter((f) => f.endsWith(".cache"));

function scan(...args: string[]): { status: number | null; report: { severity: number; stats: { files: number } } } {
  const run = spawnSync(process.execPath, [join(copy, "bin", "modelvet.js"), "scan", ...args, "--format", "json"], {
    encoding: "utf8",
  });
  if (!run.stdout.startsWith("{")) throw new Error(`no report (exit ${run.status}): ${run.stderr}`);
  return { status: run.status, report: JSON.parse(run.stdout) as never };
}

describe("the bundled CLI's code cache", () => {
  it("is stored after the first run, named by the bundle's build id and V8's version, then used as it is", () => {
    expect(cacheFiles()).toEqual([]);
    expect(scan(join(work, "tiny.pkl"), "--no-cache").report.severity).toBe(1);
    const id = /^\/\/ modelvet bundle ([0-9a-f]{16})\n/.exec(readFileSync(join(bundleDir(), "modelvet.cjs"), "utf8"));
    expect(cacheFiles()).toEqual([`modelvet.${id?.[1]}.v8-${process.versions.v8}.cache`]);
    const stored = statSync(join(bundleDir(), cacheFiles()[0]!));
    // A cache V8 accepted is not written again (a refused one would be replaced: a new file, a new inode).
    expect(scan(join(work, "tiny.pkl"), "--no-cache").report.severity).toBe(1);
    const after = statSync(join(bundleDir(), cacheFiles()[0]!));
    expect([after.ino, after.mtimeMs]).toEqual([stored.ino, stored.mtimeMs]);
  });

  it.each([
    ["garbage", Buffer.from("not a code cache at all")],
    ["a cut-off cache", undefined],
    ["an empty file", Buffer.alloc(0)],
  ])("that is %s is refused by V8: the run is judged as usual and a fresh cache replaces it", (_, bytes) => {
    const file = join(bundleDir(), cacheFiles()[0]!);
    const good = readFileSync(file);
    writeFileSync(file, bytes ?? good.subarray(0, good.length >> 1));
    const damaged = statSync(file);
    const run = scan(work, "--no-cache");
    expect(run.status).toBe(1);
    expect(run.report.severity).toBe(3);
    expect(run.report.stats.files).toBe(13);
    expect(statSync(file).ino).not.toBe(damaged.ino);
    expect(readFileSync(file).length).toBeGreaterThan(1000);
  });
});
