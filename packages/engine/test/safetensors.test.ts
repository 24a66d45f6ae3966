import { open } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { inspect } from "../src/scan-item.js";
import { BufferSource } from "../src/source/byte-source.js";
import { sniffSafetensors } from "../src/formats/safetensors.js";
import { FIXTURES, SHARED, describeShared, scanFile, tempFolder } from "./helpers.js";

const DIR = join(FIXTURES, "formats", "safetensors");
const scan = scanFile;

function header(json: unknown, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const text = new TextEncoder().encode(JSON.stringify(json));
  const out = new Uint8Array(8 + text.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(text.length), true);
  out.set(text, 8);
  out.set(data, 8 + text.length);
  return out;
}

describe("safetensors", () => {
  it.each(["pt_metadata.safetensors", "no_metadata.safetensors"])("passes a valid file: %s", async (name) => {
    const { report, inventory } = await scan(join(DIR, name));
    expect(inventory.formats).toContain("safetensors");
    expect(report.indicators).toEqual([]);
    expect(report.severity).toBe(1);
  });

  it.each([
    ["overlap.safetensors", "safetensors.offsets_overlap"],
    ["gap.safetensors", "safetensors.offsets_gap"],
    ["trailing_pickle.safetensors", "safetensors.trailing_data"],
    ["shape_mismatch.safetensors", "safetensors.invalid_tensor"],
    ["unknown_dtype.safetensors", "safetensors.unknown_dtype"],
    ["bad_metadata.safetensors", "safetensors.invalid_metadata"],
    ["huge_offsets.safetensors", "safetensors.invalid_tensor"],
    ["missing_offsets.safetensors", "safetensors.invalid_tensor"],
    ["not_utf8.safetensors", "safetensors.invalid_header_json"],
  ])("warns on %s", async (name, id) => {
    const { report, ids } = await scan(join(DIR, name));
    expect(ids).toContain(id);
    expect(report.severity).toBe(2);
  });

  it("summarises a header with many bad entries instead of listing each", async () => {
    const json: Record<string, unknown> = {};
    for (let i = 0; i < 500; i++) json[`t${i}`] = { dtype: "F32", shape: [1], data_offsets: [0, 8] };
    const inventory = await inspect(new BufferSource(header(json, new Uint8Array(8)), "many.safetensors"));
    expect(inventory.indicators.length).toBeLessThan(20);
    expect(inventory.indicators.some((i) => /more invalid_tensor/.test(i.message))).toBe(true);
  });

  it("does not claim text that happens to have '{' at byte 8", () => {
    const text = new TextEncoder().encode('01234567{"a": 1}');
    expect(sniffSafetensors(text)).toBe(false);
  });

  describe("a multi-GB sparse file", () => {
    const folder = tempFolder("st");

    it("is Pass after reading only kilobytes", async () => {
      const elements = 1_300_000_000; // 5.2 GB of F32
      const json = {
        __metadata__: { format: "pt" },
        "model.embed_tokens.weight": { dtype: "F32", shape: [elements], data_offsets: [0, elements * 4] },
      };
      const head = header(json);
      const size = head.length + elements * 4;
      const path = join(folder(), "big.safetensors");
      const file = await open(path, "w");
      await file.write(head, 0, head.length, 0);
      await file.truncate(size);
      await file.close();
      const { inventory, report } = await scan(path);
      expect(inventory.size).toBe(size);
      expect(report.severity).toBe(1);
      expect(inventory.formats).toContain("safetensors");
      expect(inventory.bytes_read).toBeLessThan(16 * 1024);
    });
  });
});

describeShared("safetensors files of the shared corpus", () => {
  it.each([
    ["oversized_header_length.safetensors", "safetensors.header_too_large"],
    ["header_past_eof.safetensors", "safetensors.header_out_of_bounds"],
    ["malformed_header_json.safetensors", "safetensors.invalid_header_json"],
    ["offsets_out_of_bounds.safetensors", "safetensors.offsets_out_of_bounds"],
  ])("warns on the corpus file %s", async (name, id) => {
    const { report, ids } = await scan(join(SHARED, "corpus", "malicious", "safetensors", name));
    expect(ids).toContain(id);
    expect(report.severity).toBe(2);
  });
});
