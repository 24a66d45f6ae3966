import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deflateSync, gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { BufferSource } from "../src/index.js";
import { FIXTURES } from "./helpers.js";
import { judgeSource } from "./compressed-helpers.js";

// A compressed wrapper whose checksum fails or that ends early is a Warning, whatever its magic's strength and
// whether or not its content was read. Streams are built here with node:zlib; xz/lzma come from fixtures/lzma.

const enc = new TextEncoder();
const PICKLES: Record<string, Uint8Array> = {
  "protocol 4": Uint8Array.of(0x80, 0x04, 0x95, 3, 0, 0, 0, 0, 0, 0, 0, 0x4b, 0x07, 0x2e),
  "protocol 0": enc.encode("(lp0\nI1\naI2\na."),
  "protocol 2 dict": Uint8Array.of(0x80, 0x02, 0x7d, 0x71, 0x00, 0x2e),
};

const flipLast = (bytes: Uint8Array, back: number): Uint8Array => {
  const copy = Uint8Array.from(bytes);
  copy[copy.length - back]! ^= 0x01;
  return copy;
};

const BROKEN: Array<[string, (p: Uint8Array) => Uint8Array]> = [
  ["zlib with a bad Adler-32", (p) => flipLast(deflateSync(p), 1)],
  ["zlib cut before its Adler-32", (p) => deflateSync(p).subarray(0, -4)],
  ["gzip with a bad CRC32", (p) => flipLast(gzipSync(p), 5)],
  ["gzip with a bad length", (p) => flipLast(gzipSync(p), 1)],
  ["gzip cut short", (p) => gzipSync(p).subarray(0, -3)],
];

describe("compressed streams that fail their checks", () => {
  for (const [name, pickle] of Object.entries(PICKLES))
    it.each(BROKEN)(`%s around a ${name} pickle is a Warning`, async (_what, make) => {
      const judged = await judgeSource(new BufferSource(make(pickle), "model.joblib"));
      expect(judged.severity).toBe(2);
      expect(judged.indicators).toContain("compression.corrupt");
    });

  it.each(["bad-check.xz", "bad-data.xz", "truncated.xz", "truncated.lzma"])("%s is a Warning", async (name) => {
    const judged = await judgeSource(new BufferSource(readFileSync(join(FIXTURES, "lzma", name)), name));
    expect(judged.severity).toBe(2);
    expect(judged.indicators).toContain("compression.corrupt");
  });

  it("intact streams stay Pass", async () => {
    for (const pickle of Object.values(PICKLES))
      for (const bytes of [deflateSync(pickle), gzipSync(pickle)]) {
        const judged = await judgeSource(new BufferSource(bytes, "model.joblib"));
        expect(judged.severity).toBe(1);
      }
  });
});

describe("through the CLI", () => {
  const dir = mkdtempSync(join(tmpdir(), "modelvet-checks-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const cli = join(import.meta.dirname, "..", "..", "cli", "bin", "modelvet.js");

  it("reports a bad Adler-32 and a bad xz check as Warnings", () => {
    const zlibFile = join(dir, "bad-adler.joblib");
    writeFileSync(zlibFile, flipLast(deflateSync(PICKLES["protocol 4"]!), 1));
    for (const file of [zlibFile, join(FIXTURES, "lzma", "bad-check.xz")]) {
      let out: string;
      try {
        out = execFileSync(process.execPath, [cli, "scan", "--format", "json", file], { encoding: "utf8" });
      } catch (e) {
        out = (e as { stdout: string }).stdout;
      }
      const report = JSON.parse(out) as { severity: number };
      expect(report.severity, file).toBe(2);
    }
  });
});
