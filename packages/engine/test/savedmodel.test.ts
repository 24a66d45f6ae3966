import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BufferSource, inspect, judge, loadClassifier, scanPaths } from "../src/index.js";
import type { FileInventory, FileSecurityReport } from "../src/index.js";
import { FIXTURES } from "./helpers.js";

const DIR = join(FIXTURES, "keras", "savedmodel");

async function judged(
  bytes: Uint8Array,
  name: string,
): Promise<{ inventory: FileInventory; report: FileSecurityReport }> {
  const inventory = await inspect(new BufferSource(bytes, name));
  return { inventory, report: judge(inventory, await loadClassifier()) };
}

const ops = (inventory: FileInventory): string[] =>
  inventory.imports.filter((i) => i.module === "tensorflow.raw_ops").map((i) => i.name);
const ids = (report: FileSecurityReport): string[] => report.indicators.map((i) => i.id);

// Minimal protobuf encoding for hand-made hostile inputs.
function varint(n: number): number[] {
  const out: number[] = [];
  do {
    out.push((n & 0x7f) | (n >= 0x80 ? 0x80 : 0));
    n = Math.floor(n / 128);
  } while (n > 0);
  return out;
}
const len = (field: number, payload: number[]): number[] => [
  ...varint((field << 3) | 2),
  ...varint(payload.length),
  ...payload,
];
const str = (field: number, text: string): number[] => len(field, [...new TextEncoder().encode(text)]);
const savedModel = (graph: number[]): Uint8Array => new Uint8Array([0x08, 0x01, ...len(2, len(2, graph))]);
const repeat = (byte: number, n: number): number[] => Array.from({ length: n }, () => byte);
const node = (name: string, op: string): number[] => len(1, [...str(1, name), ...str(2, op)]);

describe("TensorFlow SavedModel ops", () => {
  it("a SavedModel with ordinary ops and the save/restore functions stays Pass", async () => {
    const report = await scanPaths([join(DIR, "benign", "saved_model.pb")]);
    expect(report.file_security_reports).toEqual([]);
    expect(report.scanned_files[0]!.formats).toEqual(["savedmodel"]);
    const { inventory } = await judged(readFileSync(join(DIR, "benign", "saved_model.pb")), "saved_model.pb");
    expect(ops(inventory)).toEqual(
      expect.arrayContaining(["SaveV2", "RestoreV2", "MergeV2Checkpoints", "ShardedFilename", "MatMul", "Conv2D"]),
    );
    // A node that calls a library function by name is that function's body, not an op.
    expect(ops(inventory)).not.toContain("__inference_helper_7");
    expect(inventory.imports.every((i) => i.opcode === "tf-op")).toBe(true);
  });

  it("PyFunc in a library function and ReadFile in the graph are Alert, with where they were found", async () => {
    const report = (await scanPaths([join(DIR, "malicious", "saved_model.pb")])).file_security_reports[0]!;
    expect(report.severity).toBe(3);
    const found = Object.fromEntries(report.unsafe_dependencies.map((d) => [`${d.module}.${d.name}`, d]));
    expect(found["tensorflow.raw_ops.ReadFile"]?.severity).toBe(3);
    expect(found["tensorflow.raw_ops.ReadFile"]?.call).toBe('meta graph 0 graph node "read"');
    expect(found["tensorflow.raw_ops.PyFunc"]?.severity).toBe(3);
    expect(found["tensorflow.raw_ops.PyFunc"]?.call).toBe('function "__inference_py_99" node "py"');
  });

  it("a NodeDef with two op fields is judged by the last one, as protobuf reads it", async () => {
    const report = (await scanPaths([join(DIR, "repeated_op", "saved_model.pb")])).file_security_reports[0]!;
    expect(report.severity).toBe(3);
    expect(report.unsafe_dependencies.map((d) => d.name)).toEqual(["WriteFile"]);
  });

  it("a truncated saved_model.pb is Warning", async () => {
    const report = (await scanPaths([join(DIR, "truncated", "saved_model.pb")])).file_security_reports[0]!;
    expect(report.severity).toBe(2);
    expect(ids(report)).toEqual(["savedmodel.invalid"]);
  });

  it("an op on no rule is Warning", async () => {
    const { report } = await judged(savedModel(node("x", "SomeNewOp")), "model.pb");
    expect(report.severity).toBe(2);
    expect(report.unsafe_dependencies[0]).toMatchObject({
      module: "tensorflow.raw_ops",
      name: "SomeNewOp",
      rule: "unlisted",
    });
  });

  it("is recognised by content under another name, and random bytes are not claimed", async () => {
    const { inventory } = await judged(readFileSync(join(DIR, "malicious", "saved_model.pb")), "renamed.bin");
    expect(inventory.formats).toEqual(["savedmodel"]);
    const random = await judged(new Uint8Array([0x12, 0xff, 0xff, 0xff, 0x0f, 1, 2, 3]), "blob.bin");
    expect(random.inventory.formats).toEqual([]);
    const named = await judged(new Uint8Array([0x12, 0xff, 0xff, 0xff, 0x0f, 1, 2, 3]), "saved_model.pb");
    expect(named.report.severity).toBe(2);
  });

  it("hostile encodings are reported, not crashed on", async () => {
    const deepGroups = new Uint8Array([0x08, 0x01, ...repeat(0x1b, 5000)]); // field 3, start-group, ×5000
    const cases: Array<[string, Uint8Array]> = [
      ["nested groups", deepGroups],
      ["huge length", new Uint8Array([0x08, 0x01, 0x12, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f])],
      ["ten-byte varint overflow", new Uint8Array([0x08, 0x01, 0x12, ...repeat(0xff, 11)])],
      ["field zero", new Uint8Array([0x08, 0x01, 0x12, 0x02, 0x00, 0x00])],
    ];
    for (const [what, bytes] of cases) {
      const { inventory, report } = await judged(bytes, "saved_model.pb");
      expect(report.severity, what).toBe(2);
      expect(
        inventory.indicators.map((i) => i.id),
        what,
      ).toContain("savedmodel.invalid");
    }
  });

  it("never throws on damaged files", async () => {
    const bytes = readFileSync(join(DIR, "malicious", "saved_model.pb"));
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat(bytes.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
        async (edits) => {
          const copy = new Uint8Array(bytes);
          for (const [at, value] of edits) copy[at] = value;
          const inventory = await inspect(new BufferSource(copy, "saved_model.pb"));
          expect(inventory.indicators.map((i) => i.id)).not.toContain("scan.error");
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("keras_metadata.pb", () => {
  it("ordinary layer metadata stays Pass", async () => {
    const report = await scanPaths([join(DIR, "benign", "keras_metadata.pb")]);
    expect(report.severity).toBe(1);
    expect(report.scanned_files[0]!.formats).toEqual(["keras-metadata"]);
  });

  it("a Lambda layer's marshaled code is Alert", async () => {
    const report = (await scanPaths([join(DIR, "lambda", "keras_metadata.pb")])).file_security_reports[0]!;
    expect(report.severity).toBe(3);
    expect(report.indicators[0]!.id).toBe("keras.lambda");
    expect(report.indicators[0]!.message).toContain('keras_metadata.pb "root.layer-1"');
  });

  it("is claimed only under its own name", async () => {
    const { inventory } = await judged(readFileSync(join(DIR, "lambda", "keras_metadata.pb")), "other.pb");
    expect(inventory.formats).not.toContain("keras-metadata");
  });

  it("metadata that is not JSON is Warning", async () => {
    const bytes = new Uint8Array(len(1, [...str(3, "root"), ...str(5, "{not json")]));
    const { report } = await judged(bytes, "keras_metadata.pb");
    expect(report.severity).toBe(2);
    expect(ids(report)).toEqual(["keras.invalid_config"]);
  });
});
