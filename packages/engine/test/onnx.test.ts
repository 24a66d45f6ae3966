import { readFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { inspect } from "../src/scan-item.js";
import { BufferSource, FileSource } from "../src/source/byte-source.js";
import { leavesModelFolder, onnxFormat, sniffOnnx } from "../src/formats/onnx.js";
import { DEFAULT_SCAN_LIMITS, InspectContext, probe } from "../src/inspect.js";
import type { FileInventory } from "../src/inventory.js";
import { FIXTURES, SHARED, describeShared, scanFile, concatBytes, tempFolder } from "./helpers.js";

const DIR = join(FIXTURES, "formats", "onnx");
const scan = scanFile;

describe("onnx", () => {
  it.each(["plain.onnx", "contrib_ms.onnx"])("passes standard and onnxruntime contrib ops: %s", async (name) => {
    const { report, inventory } = await scan(join(DIR, name));
    expect(inventory.formats).toEqual(["onnx"]);
    expect(report.indicators).toEqual([]);
    expect(report.severity).toBe(1);
  });

  it("passes a model with external data beside it, noting the file", async () => {
    const { report } = await scan(join(DIR, "external", "model.onnx"));
    expect(report.severity).toBe(1);
    expect(report.indicators.map((i) => [i.id, i.severity])).toEqual([["onnx.external_data", 1]]);
    expect(report.indicators[0]!.message).toContain('"weights.bin"');
  });

  it.each([
    ["custom_op.onnx", /PyOp of custom domain "ai\.onnx\.contrib"/],
    ["subgraph_custom.onnx", /Exec of custom domain "evil\.ops"/],
    ["function_custom.onnx", /Shell of custom domain "evil\.ops"/],
  ])("warns on a custom operator in %s", async (name, message) => {
    const { report, inventory } = await scan(join(DIR, name));
    expect(report.severity).toBe(2);
    const custom = inventory.indicators.filter((i) => i.id === "onnx.custom_op");
    expect(custom).toHaveLength(1); // the model-local function `local.fns::Double` is not custom code
    expect(custom[0]!.message).toMatch(message);
  });

  it.each(["traversal", "absolute", "drive", "url"])("alerts on external data outside the folder: %s", async (name) => {
    const { report, ids } = await scan(join(DIR, `external_${name}.onnx`));
    expect(report.severity).toBe(3);
    expect(ids).toContain("onnx.external_data_outside");
  });

  it("warns on external data without a location, and on truncation", async () => {
    expect((await scan(join(DIR, "external_no_location.onnx"))).ids).toEqual(["onnx.external_data_invalid"]);
    const truncated = await scan(join(DIR, "truncated.onnx"));
    expect(truncated.ids).toEqual(["onnx.malformed"]);
    expect(truncated.report.severity).toBe(2);
  });

  it("classifies locations", () => {
    for (const bad of [
      "/etc/passwd",
      "\\\\server\\share\\w",
      "C:w.bin",
      "a/../../b",
      "..\\x",
      "~/.ssh/id_rsa",
      "file:///x",
      "s3://b/k",
    ])
      expect(leavesModelFolder(bad), bad).toBe(true);
    for (const good of ["weights.bin", "data/w.bin", "model.onnx_data", "a..b/w"])
      expect(leavesModelFolder(good), good).toBe(false);
  });

  it("does not claim random bytes, but warns on a damaged file named .onnx", async () => {
    const junk = new Uint8Array(4096).map((_, i) => (i * 131 + 7) % 256);
    junk.set([0x08, 0x07, 0x12, 0x7f]);
    expect(sniffOnnx(junk)).toBe(true);
    expect((await inspect(new BufferSource(junk, "blob.bin"))).formats).not.toContain("onnx");
    const named = await inspect(new BufferSource(junk, "model.onnx"));
    expect(named.formats).toContain("onnx");
    expect(named.indicators.map((i) => i.id)).toContain("onnx.malformed");
  });

  it("bounds subgraph nesting", async () => {
    // graph { node { attribute { g: graph { node { attribute { g: … } } } } } } nested 100 deep.
    let graph: Uint8Array = new Uint8Array(0);
    for (let i = 0; i < 100; i++) graph = field(1, field(5, field(6, graph))); // graph.node.attribute.g
    const model = concat([new Uint8Array([0x08, 0x08]), field(7, graph)]);
    const inventory = await inspect(new BufferSource(model, "deep.onnx"));
    const malformed = inventory.indicators.filter((i) => i.id === "onnx.malformed");
    expect(malformed.map((i) => i.message)).toEqual([expect.stringMatching(/nested deeper/) as string]);
  });

  describe("a large model", () => {
    const folder = tempFolder("onnx");

    it("seeks past raw_data instead of reading it", async () => {
      // plain.onnx with a 3 GB raw_data initializer appended to its graph (sparse on disk).
      const plain = new Uint8Array(readFileSync(join(DIR, "plain.onnx")));
      const rawLength = 3 * 1024 ** 3;
      const tensorHead = concat([field(8, new TextEncoder().encode("big")), tag(9, 2), varint(rawLength)]);
      const tensorLength = tensorHead.length + rawLength;
      const initializerHead = concat([tag(5, 2), varint(tensorLength), tensorHead]);
      const graphExtra = initializerHead.length + rawLength;
      const model = concat([tag(7, 2), varint(graphExtra), initializerHead]);
      const path = join(folder(), "big.onnx");
      const file = await open(path, "w");
      await file.write(plain, 0, plain.length, 0);
      await file.write(model, 0, model.length, plain.length);
      await file.truncate(plain.length + model.length + rawLength);
      await file.close();
      const { inventory, report } = await scan(path);
      expect(inventory.formats).toEqual(["onnx"]);
      expect(report.severity).toBe(1);
      // Every handler whose sniffer accepts the file counts here (the SavedModel sniffer also looks at protobufs).
      expect(inventory.bytes_read).toBeLessThan(256 * 1024);
      // The ONNX walker alone: metadata plus the reader's read-ahead, never the 3 GB.
      const source = await FileSource.open(path);
      try {
        const ctx = new InspectContext(emptyInventory(path, source.size), DEFAULT_SCAN_LIMITS);
        expect(await onnxFormat.inspect(source, ctx, await probe(source))).toBe(true);
        expect(source.bytesRead).toBeLessThan(80 * 1024);
      } finally {
        await source.close();
      }
    });
  });
});

function emptyInventory(path: string, size: number): FileInventory {
  return { path, size, formats: [], imports: [], indicators: [], errors: [], bytes_read: 0 };
}

function varint(n: number): Uint8Array {
  const out: number[] = [];
  while (n >= 128) {
    out.push((n % 128) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return new Uint8Array(out);
}

function tag(field: number, wire: number): Uint8Array {
  return varint(field * 8 + wire);
}

function field(number: number, payload: Uint8Array): Uint8Array {
  return concat([tag(number, 2), varint(payload.length), payload]);
}

const concat = (parts: Uint8Array[]): Uint8Array => concatBytes(...parts);

describeShared("onnx files of the shared corpus", () => {
  it("passes the corpus model", async () => {
    expect((await scan(join(SHARED, "corpus", "benign", "onnx", "tiny_mlp.onnx"))).report.severity).toBe(1);
  });
});
