import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BufferSource, inspect } from "../src/index.js";
import { decodeLzmaAlone, decodeXz } from "../src/containers/xz.js";
import { OutWindow } from "../src/containers/lzma.js";
import { FIXTURES } from "./helpers.js";

// The TypeScript LZMA/LZMA2/xz decoder against what liblzma (Python's lzma) wrote: fixtures/lzma/generate.py.
const dir = join(FIXTURES, "lzma");
const payload = readFileSync(join(dir, "payload.bin"));

async function* chunked(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += size) yield await Promise.resolve(bytes.subarray(at, at + size));
}

async function decodeAll(name: string, chunkSize = 4096): Promise<Buffer> {
  const bytes = readFileSync(join(dir, name));
  const decode = name.endsWith(".lzma") ? decodeLzmaAlone : decodeXz;
  const parts: Uint8Array[] = [];
  for await (const part of decode(chunked(bytes, chunkSize))) parts.push(part);
  return Buffer.concat(parts);
}

const GOOD = readdirSync(dir).filter((n) => /\.(xz|lzma)$/.test(n) && !/^(bad|truncated)/.test(n));

describe("LZMA decoder", () => {
  it("has every variant the generator writes", () => {
    expect(GOOD.length).toBeGreaterThanOrEqual(11);
  });

  it.each(GOOD)("decodes %s byte for byte", async (name) => {
    expect((await decodeAll(name)).equals(payload)).toBe(true);
  });

  it.each([1, 7, 65536, 1 << 20])("decodes with input chunks of %i bytes", async (size) => {
    expect((await decodeAll("check-crc64.xz", size)).equals(payload)).toBe(true);
    expect((await decodeAll("alone.lzma", size)).equals(payload)).toBe(true);
  });

  it.each([
    ["bad-check.xz", /check \(CRC64\) mismatch/],
    ["bad-data.xz", /./],
    ["truncated.xz", /ends/],
    ["truncated.lzma", /ends early/],
  ])("refuses %s", async (name, message) => {
    await expect(decodeAll(name)).rejects.toThrow(message);
  });

  it("lets a match reach only bytes that were produced", () => {
    const window = new OutWindow(0xffffffff);
    for (let i = 0; i < 10; i++) window.put(i);
    expect(window.reaches(10)).toBe(true);
    expect(window.reaches(11)).toBe(false);
    expect(() => new OutWindow(0xffffffff).reaches(0)).not.toThrow();
  });
});

describe("xz and lzma files through inspect()", () => {
  it.each(["bad-check.xz", "bad-data.xz", "truncated.xz", "truncated.lzma"])(
    "%s is a Warning (compression.corrupt)",
    async (name) => {
      const inventory = await inspect(new BufferSource(readFileSync(join(dir, name)), name));
      expect(inventory.indicators.map((i) => i.id)).toContain("compression.corrupt");
    },
  );

  it.each(["check-sha256.xz", "concatenated.xz", "alone.lzma"])("%s reads clean", async (name) => {
    const inventory = await inspect(new BufferSource(readFileSync(join(dir, name)), name));
    expect(inventory.indicators).toEqual([]);
    expect(inventory.formats).toContain(name.endsWith(".lzma") ? "lzma" : "xz");
  });
});
