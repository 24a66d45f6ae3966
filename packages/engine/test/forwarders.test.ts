import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { scanPaths } from "../src/index.js";
import { FIXTURES } from "./helpers.js";

// Reviewed rebuild helpers that call an argument are Pass only as far as that argument is: it is an import of its
// own, judged by its own rule. torch's nested loader passes only when every payload it gets is read as a file.
// Fixtures: fixtures/forwarders/generate.py.

const dir = join(FIXTURES, "forwarders");
const CLI = join(import.meta.dirname, "..", "..", "cli", "bin", "modelvet.js");

async function verdict(file: string) {
  const report = await scanPaths([join(dir, file)]);
  const deps = report.file_security_reports[0]?.unsafe_dependencies ?? [];
  return { severity: report.severity, flagged: deps.map((d) => `${d.module}.${d.name}`) };
}

describe("rebuild helpers that call their argument", () => {
  it.each(["dill-array.pkl", "astropy-unit.pkl", "interval-index.pkl"])(
    "%s: the helper with the callable library output gives it passes",
    async (file) => {
      expect(await verdict(file)).toEqual({ severity: 1, flagged: [] });
    },
  );

  it.each([
    ["dill-array-system.pkl", "os.system"],
    ["astropy-unit-eval.pkl", "builtins.eval"],
    ["interval-index-popen.pkl", "subprocess.Popen"],
    ["dill-function.pkl", "dill._dill._create_function"],
  ])("%s is Alert for %s", async (file, name) => {
    const { severity, flagged } = await verdict(file);
    expect(severity).toBe(3);
    expect(flagged).toContain(name);
  });
});

describe("torch.storage._load_from_bytes, the nested loader of plain-pickled tensors", () => {
  it.each(["load-bytes.pkl", "load-bytes-twice.pkl"])(
    "%s: every payload is a literal read as a file: Pass",
    async (file) => {
      expect(await verdict(file)).toEqual({ severity: 1, flagged: [] });
    },
  );

  it("a payload that runs code is Alert through the nested read", async () => {
    expect(await verdict("load-bytes-evil.pkl")).toEqual({ severity: 3, flagged: ["os.system"] });
  });

  it.each(["load-bytes-computed.pkl", "load-bytes-escaped.pkl"])(
    "%s: a payload the scan cannot read keeps the loader a Warning",
    async (file) => {
      expect(await verdict(file)).toEqual({ severity: 2, flagged: ["torch.storage._load_from_bytes"] });
    },
  );
});

describe("through the CLI", () => {
  const severity = (file: string): number => {
    const args = [CLI, "scan", "--format", "json", join(dir, file)];
    let out: string;
    try {
      out = execFileSync(process.execPath, args, { encoding: "utf8" });
    } catch (e) {
      out = (e as { stdout: string }).stdout;
    }
    return (JSON.parse(out) as { severity: number }).severity;
  };

  it("grades the helpers and the loader the same way", () => {
    expect(severity("dill-array.pkl")).toBe(1);
    expect(severity("dill-array-system.pkl")).toBe(3);
    expect(severity("load-bytes.pkl")).toBe(1);
    expect(severity("load-bytes-computed.pkl")).toBe(2);
  });
});
