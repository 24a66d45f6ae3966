import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BufferSource, inspect, judge, loadClassifier } from "../src/index.js";
import { FIXTURES, concatBytes, globalsOf, scanBytes } from "./helpers.js";

// A stream that begins like a pickle is read as one however long its first opcode is; hitting a reader limit is a
// Warning naming it, never "not a pickle". Fixtures: fixtures/recognition/generate.py (CRLF files and CPython's own
// find_class calls for them); the multi-MiB streams are built here.

const classifier = await loadClassifier();
const enc = new TextEncoder();
const CMD = enc.encode("0cos\nsystem\n(S'echo modelvet-test'\ntR.");
const MIB = 1024 * 1024;

async function judged(bytes: Uint8Array, limits?: Parameters<typeof inspect>[1], name = "stream") {
  const inventory = await inspect(new BufferSource(bytes, name), limits);
  const report = judge(inventory, classifier);
  return {
    inventory,
    report,
    ids: inventory.indicators.map((i) => i.id),
    messages: inventory.indicators.map((i) => i.message),
  };
}

const repeat = (text: string, n: number): Uint8Array => enc.encode(text.repeat(n));

const LONG_FIRST_OPCODES: Array<[string, Uint8Array]> = [
  ["STRING of 5 MiB", concatBytes(enc.encode("S'"), repeat("A", 5 * MIB), enc.encode("'\np0\n"))],
  ["STRING of 3 MiB in double quotes", concatBytes(enc.encode('S"'), repeat("x", 3 * MIB), enc.encode('"\n'))],
  ["UNICODE of 6 MiB with escapes", concatBytes(enc.encode("V"), repeat("\\u0041", MIB), enc.encode("\n"))],
  ["LONG of 3 MiB digits", concatBytes(enc.encode("L"), repeat("9", 3 * MIB), enc.encode("L\n"))],
  ["INT of 2 MiB digits", concatBytes(enc.encode("I"), repeat("7", 2 * MIB), enc.encode("\n"))],
  ["FLOAT of 2 MiB digits", concatBytes(enc.encode("F1."), repeat("5", 2 * MIB), enc.encode("\n"))],
];

describe("a pickle whose first opcode is a very long text line", () => {
  it.each(LONG_FIRST_OPCODES)("reads past a %s to the import", async (_name, first) => {
    const { report, ids } = await judged(concatBytes(first, CMD));
    expect(report.severity).toBe(3);
    expect(report.unsafe_dependencies.map((d) => `${d.module}.${d.name}`)).toEqual(["os.system"]);
    expect(ids).toEqual([]);
  });

  it("reads the same long line with CRLF endings", async () => {
    const bytes = concatBytes(enc.encode("V"), repeat("z", 2 * MIB), enc.encode("\r\n"), CMD);
    const { report } = await judged(bytes);
    expect(report.severity).toBe(3);
  });

  it.each([
    ["STRING", concatBytes(enc.encode("S'"), repeat("A", 300_000))],
    ["UNICODE", concatBytes(enc.encode("V"), repeat("B", 300_000))],
    ["LONG", concatBytes(enc.encode("L"), repeat("1", 300_000))],
  ])("warns naming maxLongLine when a %s line outgrows it", async (_name, first) => {
    const { report, ids, messages } = await judged(concatBytes(first, enc.encode("\n"), CMD), {
      pickle: { maxLongLine: 200_000 },
    });
    expect(report.severity).toBe(2);
    expect(ids).toEqual(["pickle.limit"]);
    expect(messages[0]).toContain("maxLongLine (200000 bytes)");
  });

  it("warns naming maxLine for a module name longer than it", async () => {
    const bytes = concatBytes(enc.encode("c"), repeat("a", 100_000), enc.encode("\nsystem\n"), CMD);
    const { report, ids, messages } = await judged(bytes);
    expect(report.severity).toBe(2);
    expect(ids).toEqual(["pickle.limit"]);
    expect(messages[0]).toContain("maxLine (65536 bytes)");
  });

  it("keeps text files that merely start with an opcode letter quiet", async () => {
    for (const text of [
      "V" + "hello world ".repeat(20_000) + "\nThis is a text file\n",
      "const x = 1;" + "a+b;".repeat(40_000) + "\n",
      "S" + "ome words ".repeat(20_000) + "\n",
      "Lorem " + "ipsum ".repeat(20_000),
    ]) {
      const { report, inventory } = await judged(enc.encode(text));
      expect(report.severity, text.slice(0, 20)).toBe(1);
      expect(inventory.formats).toEqual([]);
    }
  });

  it("finds an import after 6 MiB of binary data", async () => {
    const bytes = concatBytes(
      Uint8Array.of(0x80, 0x02, 0x42),
      new Uint8Array(new Uint32Array([6 * MIB]).buffer),
      new Uint8Array(6 * MIB),
      CMD,
    );
    const { report } = await judged(bytes);
    expect(report.severity).toBe(3);
  });
});

describe("CRLF line endings read as CPython reads them", () => {
  const dir = join(FIXTURES, "recognition");
  type Outcome = { find_class: string[]; error: string | null };
  const expected = JSON.parse(readFileSync(join(dir, "expected.json"), "utf8")) as Record<
    string,
    { c: Outcome; python: Outcome }
  >;
  const union = (name: string): string[] => [
    ...new Set([...expected[name]!.c.find_class, ...expected[name]!.python.find_class]),
  ];

  it.each(Object.keys(expected))("%s imports what either CPython unpickler asked find_class for", async (name) => {
    const scan = await scanBytes(readFileSync(join(dir, name)));
    expect(globalsOf(scan)).toEqual(union(name));
  });

  it("judges the CRLF files by those imports", async () => {
    for (const name of Object.keys(expected)) {
      const { report } = await judged(readFileSync(join(dir, name)));
      const imports = union(name);
      const wanted = imports.includes("os.system") ? 3 : imports.length > 0 ? 2 : 1;
      expect(report.severity, name).toBeGreaterThanOrEqual(wanted);
    }
  });
});
