import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SHARED, describeShared } from "./helpers.js";
import { concat, judgeBytes, judgeFile, judgeFixture, ops } from "./compressed-helpers.js";

// Fixtures: fixtures/compressed/generate.py (np.lib.format.write_array; payloads spliced in by opcode bytes).
// np.load(allow_pickle=True) unpickles everything after the header of an object-dtype .npy (anchors C16).

/** A .npy file with the given header text (padded like numpy pads it) and body. */
function npy(header: string, body: Uint8Array = new Uint8Array(0), version = 1): Uint8Array {
  const preamble = version === 1 ? 10 : 12;
  const padded = header + " ".repeat(63 - ((preamble + header.length) % 64)) + "\n";
  const length =
    version === 1 ? [padded.length & 0xff, padded.length >> 8] : [padded.length & 0xff, padded.length >> 8, 0, 0];
  return concat(ops("\x93NUMPY"), Uint8Array.of(version, 0, ...length), ops(padded), body);
}

describe(".npy object arrays (C16)", () => {
  it.each(["object_payload.npy", "structured_object_payload.npy"])("finds the payload in %s", async (name) => {
    const judged = await judgeFixture(name);
    expect(judged.severity).toBe(3);
    expect(judged.flagged).toEqual(["posix.system"]);
    expect(judged.formats).toEqual(expect.arrayContaining(["npy", "pickle"]));
  });

  it("passes a benign object array", async () => {
    const judged = await judgeFixture("object_benign.npy");
    expect(judged.severity).toBe(1);
    expect(judged.indicators).toEqual([]);
  });
});

describe(".npy numeric arrays", () => {
  it.each(["numeric.npy", "numeric_v2.npy", "numeric_v3.npy", "structured.npy"])("passes %s", async (name) => {
    const judged = await judgeFixture(name);
    expect(judged.severity).toBe(1);
    expect(judged.formats).toContain("npy");
    expect(judged.indicators).toEqual([]);
  });

  it("reads the header and nothing of the data", async () => {
    const data = new Uint8Array(16 * 1024 * 1024).fill(0x41);
    const judged = await judgeBytes(
      npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4194304,), }", data),
      "w.npy",
    );
    expect(judged.severity).toBe(1);
    // The probe reads the first 512 bytes and the last 64 KiB; the handler itself reads only the header.
    expect(judged.bytesRead).toBeLessThan(70 * 1024);
  });

  it("parses structured descrs with titles, sub-arrays and nesting", async () => {
    const header =
      "{'descr': [(('Title', 'a'), '<f8'), ('b', [('c', '|u1'), ('d', '<i2', (2, 3))]), ('e', '|S3')], " +
      "'fortran_order': True, 'shape': (2, 0), }";
    const judged = await judgeBytes(npy(header, new Uint8Array(0)));
    expect(judged.indicators).toEqual([]);
    const withObject = header.replace("'|S3'", "'|O'");
    const body = ops("\x80\x02cposix\nsystem\nX\x02\x00\x00\x00id\x85R.");
    const objects = await judgeBytes(npy(withObject, body));
    expect(objects.flagged).toEqual(["posix.system"]);
  });
});

describe(".npy malformed headers", () => {
  it.each([
    ["an unsupported version", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", undefined, 9)],
    ["a header that is code, not a literal", npy("__import__('os').system('echo modelvet-test')")],
    ["a header that is not a dict", npy("['descr', '<f4']")],
    ["missing keys", npy("{'descr': '<f4', 'shape': (1,)}")],
    ["an extra key", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}")],
    ["an unknown dtype", npy("{'descr': '<x9', 'fortran_order': False, 'shape': (1,), }")],
    ["a negative dimension", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }")],
    ["an unterminated string", npy("{'descr': '<f4, 'fortran_order': False, 'shape': (1,), }")],
    ["a header longer than the file", concat(ops("\x93NUMPY\x01\x00\xff\x7f{'descr'"))],
    ["deep nesting", npy("{'descr': " + "[".repeat(200) + "]".repeat(200) + "}")],
  ])("warns on %s", async (_label, bytes) => {
    const judged = await judgeBytes(bytes, "bad.npy");
    expect(judged.indicators).toContain("npy.malformed_header");
    expect(judged.severity).toBe(2);
  });
});

const CORPUS = join(SHARED, "corpus");

describeShared("numpy corpus", () => {
  it.each([
    ["benign/numpy/weights.npy", 1],
    ["benign/numpy/object_array.npy", 1],
    ["malicious/numpy/object_array_reduce.npy", 3],
  ])("grades %s as %d", async (path, severity) => {
    const judged = await judgeFile(join(CORPUS, path));
    expect(judged.severity).toBe(severity);
    if (severity === 3) expect(judged.flagged).toContain("posix.system");
  });
});
