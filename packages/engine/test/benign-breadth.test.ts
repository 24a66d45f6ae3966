import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { scanPaths } from "../src/index.js";

interface Entry {
  path: string;
  library: string;
  expected_severity: number;
  note?: string;
}

const ROOT = join(import.meta.dirname, "benign-breadth");
const manifest = JSON.parse(readFileSync(join(ROOT, "manifest.json"), "utf8")) as { files: Entry[] };

describe("benign breadth set (tools/benign-breadth/generate.py)", () => {
  it("covers at least 150 files of 12 libraries", () => {
    expect(manifest.files.length).toBeGreaterThanOrEqual(150);
    expect(new Set(manifest.files.map((e) => e.library)).size).toBeGreaterThanOrEqual(12);
  });

  it("grades every file no worse than the manifest, and every non-Pass entry says why", async () => {
    const report = await scanPaths([join(ROOT, "files")]);
    const measured = new Map(report.file_security_reports.map((f) => [f.path.split("/files/")[1], f.severity]));
    const worse = manifest.files
      .map((e) => ({ path: e.path, expected: e.expected_severity, got: measured.get(e.path.slice(6)) ?? 1 }))
      .filter((e) => e.got > e.expected);
    expect(worse).toEqual([]);
    for (const e of manifest.files.filter((f) => f.expected_severity > 1)) expect(e.note, e.path).toBeTruthy();
    // False Warnings at most 1 % of the set.
    const warnings = [...measured.values()].filter((s) => s === 2).length;
    expect(warnings / manifest.files.length).toBeLessThanOrEqual(0.01);
    // No real library output is an Alert.
    expect(manifest.files.filter((e) => e.expected_severity > 2).map((e) => e.path)).toEqual([]);
  }, 120_000);
});
