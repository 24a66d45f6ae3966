import { join } from "node:path";
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { SHARED, describeShared } from "./helpers.js";
import { fixtureBytes, judgeBytes, judgeFile, judgeFixture } from "./compressed-helpers.js";

// Fixtures: fixtures/compressed/generate.py (py7zr 0.11 writes solid LZMA2 folders and an LZMA-encoded header).
// nullifAI (anchors C11) shipped PyTorch models as 7z archives holding pickles that break right after the payload.

describe("7z archives", () => {
  it("finds the payload of a broken pickle and warns about the break (C11)", async () => {
    const judged = await judgeFixture("broken_pickle.7z");
    expect(judged.severity).toBe(3);
    expect(judged.flagged).toEqual(["posix.system"]);
    expect(judged.membersOf("posix.system")).toEqual(["model.pkl"]);
    expect(judged.indicators.some((id) => id.startsWith("pickle."))).toBe(true);
    expect(judged.formats).toContain("7z");
  });

  it.each([
    "solid_payload.7z",
    "payload_lzma1.7z",
    "payload_bcj.7z",
    "payload_delta.7z",
    "payload_copy.7z",
    "payload_deflate.7z",
    "payload_bzip2.7z",
  ])("cuts every member out of %s and finds the payload in the last one", async (name) => {
    const judged = await judgeFixture(name);
    expect(judged.severity).toBe(3);
    expect(judged.membersOf("posix.system")).toEqual(["b/payload.pkl"]);
    // A member cut at the wrong place would break its pickle: no finding besides the payload.
    expect(judged.indicators).toEqual([]);
  });

  it("passes a benign archive", async () => {
    const judged = await judgeFixture("benign.7z");
    expect(judged.severity).toBe(1);
    expect(judged.indicators).toEqual([]);
    expect(judged.formats).toEqual(expect.arrayContaining(["7z", "pickle"]));
  });

  it("opens a compressed member inside the archive", async () => {
    const judged = await judgeFixture("nested_gzip.7z");
    expect(judged.membersOf("posix.system")).toEqual(["model.pkl.gz!model.pkl"]);
  });

  it("reports encryption as unsupported, never as clean", async () => {
    const judged = await judgeFixture("encrypted.7z");
    expect(judged.severity).toBe(2);
    expect(judged.indicators).toEqual(["scan.unsupported"]);
  });

  it("warns on a truncated archive", async () => {
    const judged = await judgeFixture("truncated.7z");
    expect(judged.severity).toBe(2);
    expect(judged.indicators).toContain("sevenzip.malformed");
  });

  it("refuses a folder whose declared size is a bomb, without decoding it", async () => {
    const judged = await judgeFixture("bomb.7z");
    expect(judged.severity).toBe(2);
    expect(judged.indicators).toEqual(["scan.limit"]);
    expect(judged.ms).toBeLessThan(2_000);
  });

  it("survives random corruption of archives without crashing", async () => {
    const seeds = await Promise.all(["solid_payload.7z", "payload_lzma1.7z", "benign.7z"].map(fixtureBytes));
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: seeds.length - 1 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
        async (which, flips) => {
          const bytes = seeds[which]!.slice();
          for (const [at, value] of flips) bytes[6 + (at % (bytes.length - 6))] = value;
          const judged = await judgeBytes(bytes, "fuzz.7z");
          expect(judged.indicators).not.toContain("scan.error");
        },
      ),
      { numRuns: 150 },
    );
  });
});

const CORPUS = join(SHARED, "corpus");

describeShared("7z corpus", () => {
  it("passes the benign state_dict archive", async () => {
    const judged = await judgeFile(join(CORPUS, "benign/archive/state_dict.7z"));
    expect(judged.severity).toBe(1);
  });

  it("finds posix.system in the nullifAI-style model", async () => {
    const judged = await judgeFile(join(CORPUS, "malicious/archive/model_7z.pt"));
    expect(judged.severity).toBe(3);
    expect(judged.flagged).toContain("posix.system");
  });
});
