import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Classifier, loadBuiltinPack, scanPaths } from "../src/index.js";
import { FIXTURES } from "./helpers.js";

interface Candidate {
  callable: string;
  sink: string;
  path: string[];
}

const CANDIDATES = join(import.meta.dirname, "..", "..", "..", "tools", "derive-rules", "candidates.json");
const candidates = (JSON.parse(readFileSync(CANDIDATES, "utf8")) as { deny_candidates: Candidate[] }).deny_candidates;
const classifier = new Classifier(await loadBuiltinPack());
const verdict = (dotted: string) => {
  const dot = dotted.lastIndexOf(".");
  return classifier.classify(dotted.slice(0, dot), dotted.slice(dot + 1));
};

describe("deny rules derived from the trusted libraries", () => {
  it("never allows a callable whose code reaches a sink", () => {
    const allowed = candidates.filter((c) => verdict(c.callable).severity === 1).map((c) => c.callable);
    expect(allowed).toEqual([]);
  });

  it("grades every candidate within two calls of its sink Alert", () => {
    // torch.storage._load_from_bytes stays Warning: its bytes are read as a nested pickle (benign tensors use it).
    const near = candidates.filter((c) => c.path.length <= 3 && c.callable !== "torch.storage._load_from_bytes");
    expect(near.length).toBeGreaterThan(100);
    const notAlert = near.filter((c) => verdict(c.callable).severity !== 3).map((c) => c.callable);
    expect(notAlert).toEqual([]);
  });

  it("names the sink in the reason of a derived rule", () => {
    const v = verdict("sklearn.utils._testing.assert_run_python_script");
    expect(v.rule?.id).toMatch(/^deny-derived-/);
    expect(v.reason).toContain("deletes a file");
  });

  const dir = join(FIXTURES, "derived");
  const files = readdirSync(dir).filter((f) => f.endsWith(".pkl"));
  it.each(files)("Alerts on %s through scanPaths", async (file) => {
    const report = await scanPaths([join(dir, file)]);
    expect(report.severity).toBe(3);
    const deps = report.file_security_reports[0]!.unsafe_dependencies;
    expect(deps.some((d) => d.severity === 3 && d.rule.startsWith("deny-derived-"))).toBe(true);
  });
});
