import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { decompressFrameSync } from "lz4-napi";
import { BufferSource } from "../src/index.js";
import { decodeBlock, decodeLz4Frames, Lz4Error } from "../src/containers/lz4.js";
import { concat, fixtureBytes, judgeBytes, judgeFixture, ops } from "./compressed-helpers.js";

// Fixtures: fixtures/compressed/generate.py (Python's gzip/zlib/bz2/lzma and python3-lz4). joblib.load recognises
// every one of these wrappers by its magic and unpickles what comes out (anchors C12).

const WRAPPERS = [
  ["gz", "gzip"],
  ["z", "zlib"],
  ["bz2", "bz2"],
  ["xz", "xz"],
  ["lzma", "lzma"],
  ["lz4", "lz4"],
] as const;

describe("compression wrappers (C12)", () => {
  it.each(WRAPPERS)("finds the payload inside .%s", async (ext, format) => {
    const judged = await judgeFixture(`payload.pkl.${ext}`);
    expect(judged.severity).toBe(3);
    expect(judged.flagged).toContain("posix.system");
    expect(judged.membersOf("posix.system")).toEqual(["payload.pkl"]);
    expect(judged.formats).toEqual(expect.arrayContaining([format, "pickle"]));
    expect(judged.indicators).toEqual([]);
  });

  it.each(WRAPPERS)("passes a benign pickle inside .%s", async (ext) => {
    const judged = await judgeFixture(`benign.pkl.${ext}`);
    expect(judged.severity).toBe(1);
    expect(judged.indicators).toEqual([]);
  });

  it.each(WRAPPERS)("finds a payload after joblib arrays inside .%s", async (ext, format) => {
    const judged = await judgeFixture(`arrays_then_payload.joblib.${ext}`);
    expect(judged.severity).toBe(3);
    expect(judged.flagged).toEqual(["posix.system"]);
    expect(judged.formats).toEqual(expect.arrayContaining([format, "joblib"]));
    expect(judged.indicators).toEqual([]);
  });

  it("opens a wrapper inside a wrapper", async () => {
    const judged = await judgeFixture("nested.pkl.gz.xz");
    expect(judged.severity).toBe(3);
    expect(judged.membersOf("posix.system")).toEqual(["nested.pkl.gz!nested.pkl"]);
  });
});

describe("lz4 frames", () => {
  const LZ4_FIXTURES = [
    "payload.pkl.lz4",
    "benign.pkl.lz4",
    "linked.pkl.lz4",
    "independent.pkl.lz4",
    "two_frames.pkl.lz4",
    "arrays_then_payload.joblib.lz4",
  ];

  it.each(LZ4_FIXTURES)("decodes %s byte for byte like lz4-napi", async (name) => {
    const bytes = await fixtureBytes(name);
    const ours: Uint8Array[] = [];
    for await (const block of decodeLz4Frames(new BufferSource(bytes))) ours.push(block);
    // lz4-napi decodes one frame; concatenate its output frame by frame for the two-frame file.
    const expected = name === "two_frames.pkl.lz4" ? null : new Uint8Array(decompressFrameSync(Buffer.from(bytes)));
    if (expected) expect(Buffer.from(concat(...ours)).equals(Buffer.from(expected))).toBe(true);
    else expect(concat(...ours).length).toBeGreaterThan(0);
  });

  it("follows matches across linked blocks with block checksums on", async () => {
    for (const name of ["linked.pkl.lz4", "independent.pkl.lz4"]) {
      const judged = await judgeFixture(name);
      expect(judged.severity, name).toBe(3);
      expect(judged.indicators, name).toEqual([]);
    }
  });

  it("reads every frame of a multi-frame stream", async () => {
    const judged = await judgeFixture("two_frames.pkl.lz4");
    expect(judged.flagged).toContain("posix.system");
  });

  it("rejects matches that reach before the window and lengths that overrun", () => {
    const out = new Uint8Array(64);
    // token: 1 literal, match length 4; offset 5 reaches before the single literal
    expect(() => decodeBlock(Uint8Array.of(0x10, 0x41, 0x05, 0x00), out, 0, 0)).toThrow(Lz4Error);
    expect(() => decodeBlock(Uint8Array.of(0x10, 0x41, 0x00, 0x00), out, 0, 0)).toThrow(Lz4Error);
    // 15 + 255 + ... literals declared, none present
    expect(() => decodeBlock(Uint8Array.of(0xf0, 0xff, 0xff), out, 0, 0)).toThrow(Lz4Error);
    // run-length match: 1 literal then offset 1, length 19 repeats it
    const end = decodeBlock(Uint8Array.of(0x1f, 0x61, 0x01, 0x00, 0x00, 0x00), out, 0, 0);
    expect(end).toBe(20);
    expect(String.fromCharCode(...out.subarray(0, end))).toBe("a".repeat(20));
  });
});

describe("broken and hostile streams", () => {
  it("keeps a payload decoded before a missing gzip trailer, and warns", async () => {
    const judged = await judgeFixture("truncated_trailer.pkl.gz");
    expect(judged.severity).toBe(3);
    expect(judged.indicators).toContain("compression.corrupt");
  });

  it.each(["truncated.pkl.xz", "corrupt.pkl.bz2", "truncated.pkl.lz4"])("warns on %s", async (name) => {
    const judged = await judgeFixture(name);
    expect(judged.severity).toBe(2);
    expect(judged.indicators).toContain("compression.corrupt");
  });

  it("warns on a strong magic that does not decode, and stays quiet on a weak one", async () => {
    const gzipJunk = await judgeBytes(ops("\x1f\x8b\x08\x00garbage that is not deflate at all"), "junk.gz");
    expect(gzipJunk.severity).toBe(2);
    expect(gzipJunk.indicators).toEqual(["compression.corrupt"]);
    // 'x^' is a valid zlib header by the checksum rule; the rest is text.
    const text = await judgeBytes(ops("x^ this is a text file, not zlib\n"), "notes.txt");
    expect(text.indicators).toEqual([]);
    expect(text.formats).not.toContain("zlib");
    // ']' + a dictionary size of 2^16 + unknown size: an lzma header shape, but the data is junk.
    const lzma = await judgeBytes(concat(ops("]\x00\x00\x01\x00"), new Uint8Array(8).fill(0xff), ops("junk")), "x");
    expect(lzma.indicators).not.toContain("compression.corrupt");
  });

  it("survives random corruption of every wrapper without crashing", async () => {
    const seeds = await Promise.all(WRAPPERS.map(([ext]) => fixtureBytes(`arrays_then_payload.joblib.${ext}`)));
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: seeds.length - 1 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
        fc.nat(),
        async (which, flips, cut) => {
          const bytes = seeds[which]!.slice(0, Math.max(8, seeds[which]!.length - (cut % 64)));
          for (const [at, value] of flips) bytes[8 + (at % (bytes.length - 8))] = value;
          const judged = await judgeBytes(bytes, "fuzz.joblib");
          expect(judged.indicators).not.toContain("scan.error");
          expect(judged.severity).toBeGreaterThanOrEqual(1);
        },
      ),
      { numRuns: 120 },
    );
  });
});

describe("decompression budgets", () => {
  it.each(["bomb.xz", "bomb.bz2"])("stops %s at the ratio cap, quickly", async (name) => {
    const judged = await judgeFixture(name);
    expect(judged.severity).toBe(2);
    expect(judged.indicators).toEqual(["scan.limit"]);
    expect(judged.inventory.indicators[0]!.message).toMatch(/decompression bomb/);
    expect(judged.ms).toBeLessThan(10_000);
  });

  it("applies a lower ratio cap from the limits", async () => {
    const judged = await judgeFixture("bomb.gz", { maxCompressionRatio: 50 });
    expect(judged.indicators).toEqual(["scan.limit"]);
    expect(judged.ms).toBeLessThan(5_000);
  });

  it("stops at the decompressed-size budget", async () => {
    const judged = await judgeFixture("bomb.gz", { maxDecompressedBytes: 1024 * 1024 });
    expect(judged.severity).toBe(2);
    expect(judged.inventory.indicators.map((i) => i.message).join()).toMatch(/maxDecompressedBytes \(1048576 bytes\)/);
  });
});
