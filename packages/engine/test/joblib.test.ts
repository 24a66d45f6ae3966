import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SHARED, describeShared } from "./helpers.js";
import { PAYLOAD_CALL, concat, judgeBytes, judgeFile, judgeFixture, ops } from "./compressed-helpers.js";

// Fixtures: fixtures/compressed/generate.py (real joblib.dump output; payloads spliced in by opcode bytes).
// joblib writes each NumPy array's raw bytes right after its NumpyArrayWrapper BUILD; a scanner that parses them
// as opcodes breaks, and one that stops there misses whatever follows.

describe("joblib arrays", () => {
  it("skips array bytes and finds the payload after them", async () => {
    const judged = await judgeFixture("arrays_then_payload.joblib");
    expect(judged.severity).toBe(3);
    expect(judged.flagged).toEqual(["posix.system"]);
    expect(judged.formats).toEqual(expect.arrayContaining(["joblib", "pickle"]));
    expect(judged.indicators).toEqual([]);
  });

  it("reads files of joblib < 1.2, which have no padding byte", async () => {
    const judged = await judgeFixture("no_alignment_then_payload.joblib");
    expect(judged.flagged).toEqual(["posix.system"]);
    expect(judged.indicators).toEqual([]);
  });

  it("scans an object array's nested pickle and continues after it", async () => {
    const judged = await judgeFixture("object_array_payload.joblib");
    expect(judged.severity).toBe(3);
    expect(judged.flagged).toEqual(["posix.system"]);
    expect(judged.indicators).toEqual([]);
  });

  it.each(["arrays_benign.joblib", "object_array.joblib", "structured_object.joblib"])("passes %s", async (name) => {
    const judged = await judgeFixture(name);
    expect(judged.severity).toBe(1);
    expect(judged.indicators).toEqual([]);
    expect(judged.formats).toContain("joblib");
  });

  it.each(["many_dtypes.joblib", "many_dtypes.joblib.gz"])("sizes every dtype in %s exactly", async (name) => {
    // f8, >i8 Fortran order, b1, U10, S5, V24, structured, M8[ns], c16, f2, empty, 0-d, sub-array dtype; a wrong
    // size anywhere would break the opcodes that follow.
    const judged = await judgeFixture(name);
    expect(judged.indicators).toEqual([]);
    expect(judged.severity).toBe(1);
  });

  it("gives up with a warning on a dtype it cannot size", async () => {
    const judged = await judgeFixture("unknown_dtype.joblib");
    expect(judged.severity).toBe(2);
    expect(judged.indicators).toContain("joblib.unsized_array");
    expect(judged.inventory.indicators.find((i) => i.id === "joblib.unsized_array")!.message).toMatch(/"i3"/);
  });

  it("warns when the array bytes are cut short", async () => {
    const judged = await judgeFixture("truncated_array.joblib");
    expect(judged.severity).toBe(2);
    expect(judged.indicators).toContain("joblib.truncated_array");
  });
});

/**
 * A protocol-2 joblib stream assembled by hand: one NumpyArrayWrapper whose state says `shape` and `typestr`,
 * then (when aligned) a padding-length byte and the padding, the array bytes, and `tail` opcodes before STOP.
 */
function wrapperStream(options: {
  shape: string;
  typestr: string;
  arrayBytes: number;
  padding?: number;
  tail?: Uint8Array;
}): Uint8Array {
  const str = (s: string) => ops(`X${u32(s.length)}${s}`);
  const state = concat(
    ops("}("),
    str("subclass"),
    ops("cnumpy\nndarray\n"),
    str("shape"),
    ops(options.shape),
    str("order"),
    str("C"),
    str("dtype"),
    ops("cnumpy\ndtype\n("),
    str(options.typestr),
    ops("\x89\x88tR"),
    str("allow_mmap"),
    ops("\x89"),
    ...(options.padding !== undefined ? [str("numpy_array_alignment_bytes"), ops("K\x10")] : []),
    ops("u"),
  );
  const padding =
    options.padding !== undefined
      ? concat(Uint8Array.of(options.padding), new Uint8Array(options.padding).fill(0xff))
      : new Uint8Array(0);
  return concat(
    ops("\x80\x02(cjoblib.numpy_pickle\nNumpyArrayWrapper\n)\x81"),
    state,
    ops("b"),
    padding,
    new Uint8Array(options.arrayBytes),
    options.tail ?? new Uint8Array(0),
    ops("l."),
  );
}

function u32(n: number): string {
  return String.fromCharCode(n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, (n >>> 24) & 0xff);
}

const int = (n: number) => `J${u32(n)}`;

describe("joblib wrapper sizing", () => {
  it("never reads the array bytes of a seekable source", async () => {
    const n = 2_000_000; // 16 MB of float64
    const bytes = wrapperStream({
      shape: `${int(n)}\x85`,
      typestr: "f8",
      arrayBytes: 8 * n,
      padding: 7,
      tail: PAYLOAD_CALL,
    });
    const judged = await judgeBytes(bytes, "big.joblib");
    expect(judged.flagged).toEqual(["posix.system"]);
    expect(judged.indicators).toEqual([]);
    expect(judged.bytesRead).toBeLessThan(256 * 1024);
  });

  it("multiplies every dimension, and a scalar has one element", async () => {
    const cube = wrapperStream({
      shape: `${int(3)}${int(4)}${int(5)}\x87`,
      typestr: "<i2",
      arrayBytes: 120,
      tail: PAYLOAD_CALL,
    });
    expect((await judgeBytes(cube)).indicators).toEqual([]);
    const scalar = wrapperStream({ shape: ")", typestr: "U3", arrayBytes: 12, tail: PAYLOAD_CALL });
    const judged = await judgeBytes(scalar);
    expect(judged.indicators).toEqual([]);
    expect(judged.flagged).toEqual(["posix.system"]);
  });

  it.each([
    ["an absurd size", `${int(0x7fffffff)}${int(0x7fffffff)}${int(0x7fffffff)}\x87`, "f8"],
    ["a negative dimension", `${int(-4)}\x85`, "f8"],
    ["a shape that is not constant", "cbuiltins\nlen\n)R\x85", "f8"],
    ["an unknown type code", `${int(4)}\x85`, "x8"],
    ["a platform-dependent type code", `${int(4)}\x85`, "l"],
  ])("stops with a warning on %s", async (_label, shape, typestr) => {
    const bytes = wrapperStream({ shape, typestr, arrayBytes: 64, tail: PAYLOAD_CALL });
    const judged = await judgeBytes(bytes);
    expect(judged.indicators).toContain("joblib.unsized_array");
    expect(judged.severity).toBeGreaterThanOrEqual(2);
  });

  it("treats a dtype flagged as holding objects as a nested pickle", async () => {
    // dtype('V8') whose BUILD state sets NPY_ITEM_HASOBJECT: joblib would pickle.load, so must we.
    const str = (s: string) => ops(`X${u32(s.length)}${s}`);
    const bytes = concat(
      ops("\x80\x02(cjoblib.numpy_pickle\nNumpyArrayWrapper\n)\x81}("),
      str("shape"),
      ops(`${int(1)}\x85`),
      str("dtype"),
      ops("cnumpy\ndtype\n("),
      str("V8"),
      ops("\x89\x88tR(K\x03X\x01\x00\x00\x00|NNNJ\x08\x00\x00\x00K\x01K?tb"),
      ops("ub"),
      ops("\x80\x02"),
      PAYLOAD_CALL,
      ops("."),
      ops("l."),
    );
    const judged = await judgeBytes(bytes);
    expect(judged.flagged).toEqual(["posix.system"]);
    expect(judged.indicators).toEqual([]);
  });
});

const CORPUS = join(SHARED, "corpus");
const BENIGN_CORPUS = join(SHARED, "corpus-benign");

describeShared("joblib corpus", () => {
  it("grades every joblib file of the shared corpora as the manifests expect", async () => {
    const failures: string[] = [];
    for (const root of [CORPUS, BENIGN_CORPUS]) {
      if (!existsSync(join(root, "manifest.json"))) continue;
      const manifest = JSON.parse(await readFile(join(root, "manifest.json"), "utf8")) as {
        files: Array<{
          path: string;
          format: string;
          expected_severity: number;
          acceptable_severities?: number[];
          expected_globals?: string[];
        }>;
      };
      for (const entry of manifest.files.filter((f) => f.format.startsWith("joblib"))) {
        const path = [join(root, entry.path), join(root, "files", entry.path)].find((p) => existsSync(p));
        if (!path) continue;
        const judged = await judgeFile(path);
        const accepted = entry.acceptable_severities ?? [entry.expected_severity];
        if (!accepted.includes(judged.severity))
          failures.push(`${entry.path}: ${judged.severity} ${judged.indicators.join()}`);
        for (const global of entry.expected_globals ?? [])
          if (!judged.flagged.includes(global)) failures.push(`${entry.path}: missing ${global}`);
      }
    }
    expect(failures).toEqual([]);
  });
});
