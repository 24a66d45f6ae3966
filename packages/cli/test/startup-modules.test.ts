import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..", "..", "..");
const BIN = join(ROOT, "packages", "cli", "bin", "modelvet.js");
/**
 * Preloaded with `--import`: on exit, prints the Node built-in modules the process loaded (process.moduleLoadList)
 * and the files it required (require.cache: the bundle requires the engine's large libraries from node_modules).
 */
const HOOK =
  "data:text/javascript," +
  encodeURIComponent(
    'import { createRequire } from "node:module"; const required = createRequire(process.cwd() + "/").cache;' +
      'process.on("exit", () => process.stderr.write("LOADED-BUILTINS " + JSON.stringify(process.moduleLoadList' +
      '.filter((m) => m.startsWith("NativeModule ")).map((m) => m.slice(13))) + "\\n" +' +
      '"REQUIRED " + JSON.stringify(Object.keys(required)) + "\\n"));',
  );

/** A protocol-2 pickle of `{"a": [1, 2, 3]}`: the smallest real scan. */
const TINY = Buffer.from("80027d710058010000006171015d7102284b014b024b0365732e", "hex");

/** Runs the CLI with the loaded-modules hook; returns the exit code, the report and the built-ins it loaded. */
function scanWithHook(...args: string[]): {
  code: number | null;
  stdout: string;
  builtins: string[];
  required: string[];
} {
  const run = spawnSync(process.execPath, ["--import", HOOK, BIN, ...args], { encoding: "utf8" });
  const line = (prefix: string): string => {
    const found = run.stderr.split("\n").find((l) => l.startsWith(prefix));
    if (!found) throw new Error(`no module list: ${run.stderr}`);
    return found.slice(prefix.length);
  };
  return {
    code: run.status,
    stdout: run.stdout,
    builtins: JSON.parse(line("LOADED-BUILTINS ")) as string[],
    required: JSON.parse(line("REQUIRED ")) as string[],
  };
}

/** The engine's large libraries, as paths under node_modules. */
const LARGE_LIBRARIES = /node_modules\/(yaml|jsfive|@huggingface\/hub|@huggingface\/jinja)\//;

describe("start-up loads only what the command uses", () => {
  const dir = mkdtempSync(join(tmpdir(), "modelvet-startup-"));
  const tiny = join(dir, "tiny.pkl");
  writeFileSync(tiny, TINY);

  it("a --no-cache JSON scan neither hashes nor spawns: no crypto, no child_process", () => {
    const run = scanWithHook("scan", tiny, "--format", "json", "--no-cache");
    expect(run.code).toBe(0);
    expect((JSON.parse(run.stdout) as { severity: number }).severity).toBe(1);
    expect(run.builtins).not.toContain("crypto");
    expect(run.builtins).not.toContain("child_process");
  });

  it("a pickle scan requires none of the engine's large libraries; a YAML file requires the YAML parser", () => {
    const pickle = scanWithHook("scan", tiny, "--format", "json", "--no-cache");
    expect(pickle.code).toBe(0);
    expect(pickle.required.some((f) => f.endsWith("modelvet.cjs") || f.endsWith("bundle.js"))).toBe(true);
    expect(pickle.required.filter((f) => LARGE_LIBRARIES.test(f))).toEqual([]);
    const yaml = join(dir, "config.yaml");
    writeFileSync(yaml, "model: !!python/object/apply:os.system ['echo hi']\n");
    const config = scanWithHook("scan", yaml, "--format", "json", "--no-cache");
    expect((JSON.parse(config.stdout) as { severity: number }).severity).toBe(3);
    expect(config.required.some((f) => /node_modules\/yaml\//.test(f))).toBe(true);
  });

  it("the same scan with the cache hashes the file (crypto loads there, and only there)", () => {
    const run = scanWithHook("scan", tiny, "--format", "json", "--cache-dir", join(dir, "cache"));
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as { scanned_files: Array<{ sha256?: string }> };
    expect(report.scanned_files[0]?.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(run.builtins).toContain("crypto");
  });

  it("--version loads neither the engine's dependencies nor the command-line parser's", () => {
    const run = scanWithHook("--version");
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
    for (const name of ["crypto", "child_process", "zlib", "fs/promises"]) expect(run.builtins).not.toContain(name);
  });
});
