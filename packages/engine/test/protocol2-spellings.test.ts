import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BufferSource, inspect, judge, loadClassifier } from "../src/index.js";
import { FIXTURES } from "./helpers.js";

// Protocols 0-3 spell bytes as _codecs.encode(<str>, 'latin1') and keyword construction as
// functools.partial(cls.__new__, cls, ...)(). Fixtures: fixtures/protocol2/generate.py.

const dir = join(FIXTURES, "protocol2");
const CLI = join(import.meta.dirname, "..", "..", "cli", "bin", "modelvet.js");

async function verdict(file: string, limits?: Parameters<typeof inspect>[1]) {
  const inventory = await inspect(new BufferSource(readFileSync(join(dir, file)), file), limits);
  const report = judge(inventory, await loadClassifier());
  const flagged = Object.fromEntries(report.unsafe_dependencies.map((d) => [`${d.module}.${d.name}`, d.severity]));
  return { severity: report.severity, flagged, report, inventory };
}

describe("_codecs.encode(<str>, 'latin1') handed to a pickle loader is read as a nested pickle", () => {
  it.each([
    "latin1-short.pkl",
    "latin1-long.pkl",
    "latin1-binunicode8.pkl",
    "latin1-unicode-p0.pkl",
    "latin1-dash.pkl",
    "latin1-iso.pkl",
  ])("%s: a benign payload passes, the loader with it", async (file) => {
    const { severity, flagged, inventory } = await verdict(file);
    expect(flagged).toEqual({});
    expect(severity).toBe(1);
    // The nested pickle was read: its dict and float list were seen as a stream of its own.
    expect(inventory.imports.find((i) => i.name === "_load_from_bytes")?.nestedLoads).toEqual({ pushes: 1, reads: 1 });
  });

  it.each([
    ["latin1-evil-short.pkl", "SHORT_BINUNICODE"],
    ["latin1-evil-long.pkl", "BINUNICODE past the kept head"],
    ["latin1-evil-unicode-p0.pkl", "protocol 0 UNICODE"],
    ["latin1-evil-binunicode8.pkl", "BINUNICODE8"],
  ])("%s: a nested pickle that runs code is Alert (%s)", async (file) => {
    const { severity, flagged, report } = await verdict(file);
    expect(severity).toBe(3);
    expect(flagged["os.system"]).toBe(3);
    const system = report.unsafe_dependencies.find((d) => d.name === "system");
    expect(system?.locations[0]?.member).toMatch(/^torch\.storage\._load_from_bytes\(bytes@\d+\)$/);
  });

  it.each(["latin1-wide-head.pkl", "latin1-wide-tail.pkl", "utf8-codec.pkl"])(
    "%s: bytes the loader cannot make (code point > 255) or another codec keep the loader a Warning",
    async (file) => {
      const { severity, flagged, inventory } = await verdict(file);
      expect(severity).toBe(2);
      expect(flagged).toEqual({ "torch.storage._load_from_bytes": 2 });
      expect(inventory.imports.find((i) => i.name === "_load_from_bytes")?.nestedLoads?.reads).toBe(0);
    },
  );

  it("a payload over maxEncodedPayload is not read: a limit finding and the loader's Warning", async () => {
    const { severity, flagged, report } = await verdict("latin1-long.pkl", { pickle: { maxEncodedPayload: 100 } });
    expect(severity).toBe(2);
    expect(flagged).toEqual({ "torch.storage._load_from_bytes": 2 });
    expect(report.indicators.map((i) => i.id)).toContain("pickle.limit");
    expect(report.indicators.find((i) => i.id === "pickle.limit")?.message).toContain("maxEncodedPayload");
  });

  it("the report still shows the call the file spells", async () => {
    const { report } = await verdict("latin1-wide-head.pkl");
    expect(report.unsafe_dependencies[0]?.call).toMatch(/^torch\.storage\._load_from_bytes\(_codecs\.encode\('/);
  });
});

describe("functools.partial(cls.__new__, cls, ...) as protocols 2-3 spell keyword construction", () => {
  it.each([
    "partial-new.pkl",
    "partial-new-nokw.pkl",
    "partial-new-qualified.pkl",
    "sympy-symbol-p2.pkl",
    "sympy-symbol-p3.pkl",
  ])("%s: an allowed class with its allowed __new__ passes", async (file) => {
    const { severity, flagged, inventory } = await verdict(file);
    expect(flagged).toEqual({});
    expect(severity).toBe(1);
    const use = inventory.imports.find((i) => i.module === "functools" && i.name === "partial")?.partialNew;
    expect(use?.classes).toEqual(["sympy.core.symbol.Symbol"]);
  });

  it.each([
    ["partial-new-unallowed-qualified.pkl", 2],
    ["partial-new-unallowed.pkl", 3], // getattr on a class that is not allowed is Alert, as before
    ["partial-new-unlisted-pair.pkl", 3],
    ["partial-new-mismatch.pkl", 2],
    ["partial-new-nobuild.pkl", 2],
    ["partial-new-dict.pkl", 2],
    ["partial-new-and-other.pkl", 3],
    ["partial-new-and-inst.pkl", 2],
  ])("%s: any other shape keeps partial a Warning (file %i)", async (file, fileSeverity) => {
    const { severity, flagged } = await verdict(file);
    expect(flagged["functools.partial"]).toBe(2);
    expect(severity).toBe(fileSeverity);
  });

  it.each(["partial-new-swapped.pkl", "partial-denied.pkl"])(
    "%s: a denied function in the partial is Alert",
    async (file) => {
      const { severity, flagged } = await verdict(file);
      expect(severity).toBe(3);
      expect(flagged["os.system"]).toBe(3);
      expect(flagged["functools.partial"]).toBe(2);
    },
  );
});

describe("through the CLI", () => {
  const severity = (file: string): number => {
    const args = [CLI, "scan", "--format", "json", "--no-cache", join(dir, file)];
    let out: string;
    try {
      out = execFileSync(process.execPath, args, { encoding: "utf8" });
    } catch (e) {
      out = (e as { stdout: string }).stdout;
    }
    return (JSON.parse(out) as { severity: number }).severity;
  };

  it("grades both spellings as the library does", () => {
    expect(severity("latin1-long.pkl")).toBe(1);
    expect(severity("latin1-evil-long.pkl")).toBe(3);
    expect(severity("latin1-wide-tail.pkl")).toBe(2);
    expect(severity("partial-new.pkl")).toBe(1);
    expect(severity("partial-new-mismatch.pkl")).toBe(2);
    expect(severity("partial-new-swapped.pkl")).toBe(3);
  });
});
