import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { scanPaths } from "../src/index.js";
import { ADVERSARIAL, FIXTURES } from "./helpers.js";

describe("verdicts on hand-assembled streams (bypass catalogue §6.2 and malformed input)", () => {
  it.each(ADVERSARIAL.map((c) => [c.file, c] as const))("%s", async (_name, c) => {
    const report = await scanPaths([join(FIXTURES, "adversarial", c.file)]);
    expect(report.severity, c.note).toBe(c.severity);
    const file = report.file_security_reports[0];
    const globals = (file?.unsafe_dependencies ?? []).map((d) => (d.name ? `${d.module}.${d.name}` : d.module));
    for (const g of [...c.globals, ...c.nested]) expect(globals, c.note).toContain(g);
    const indicators = (file?.indicators ?? []).map((i) => i.id);
    for (const id of c.indicators) expect(indicators).toContain(id);
  });

  it("locates a nested pickle's imports inside the outer file", async () => {
    const report = await scanPaths([join(FIXTURES, "adversarial", "o12-nested-pickle-loads.pkl")]);
    const nested = report.file_security_reports[0]!.unsafe_dependencies.find((d) => d.module === "posix");
    expect(nested?.locations[0]?.member).toBe("pickle.loads(bytes@20)");
    expect(nested?.call).toBe("posix.system('echo modelvet-test')");
  });
});

describe("files that are not pickles stay quiet", () => {
  it.each([
    ["CMakeLists.txt", "cmake_minimum_required(VERSION 3.10)\nproject(model)\n"],
    ["LICENSE", "MIT License\n\nCopyright (c) 2026\n"],
    ["config.json", '{"architectures": ["BertModel"]}'],
    ["vocab.txt", "[PAD]\n[unused0]\n(\nc\n"],
  ])("%s", async (name, text) => {
    const { mkdtempSync, writeFileSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const file = join(mkdtempSync(join(tmpdir(), "modelvet-")), name);
    writeFileSync(file, text);
    const report = await scanPaths([file]);
    expect(report.severity).toBe(1);
    expect(report.scanned_files[0]!.formats).toEqual([]);
  });
});
