import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BufferSource, FileSource, inspect, judge, loadClassifier, scanPaths } from "../src/index.js";
import type { FileInventory, FileSecurityReport } from "../src/index.js";
import { describeMarshaledCode, renderCodeSummary } from "../src/formats/marshal.js";
import { findSignature, readRootAttributes } from "../src/formats/hdf5.js";
import { kerasConfigFormat } from "../src/formats/keras.js";
import { DEFAULT_SCAN_LIMITS, InspectContext, probe } from "../src/inspect.js";
import { FIXTURES, SHARED, describeShared } from "./helpers.js";

const KERAS = join(FIXTURES, "keras");

async function scanFile(name: string): Promise<FileSecurityReport | undefined> {
  const report = await scanPaths([join(KERAS, name)]);
  return report.file_security_reports[0] ?? emptyReport(report.severity);
}

function emptyReport(severity: number): FileSecurityReport {
  return { severity, unsafe_dependencies: [], indicators: [], errors: [] } as unknown as FileSecurityReport;
}

/** Inspects bytes in memory under a name (the name is what a zip member or file would be called) and judges them. */
async function judgeBytes(
  bytes: Uint8Array,
  name: string,
): Promise<{ inventory: FileInventory; report: FileSecurityReport }> {
  const inventory = await inspect(new BufferSource(bytes, name));
  return { inventory, report: judge(inventory, await loadClassifier()) };
}

const ids = (report: FileSecurityReport | undefined): string[] => (report?.indicators ?? []).map((i) => i.id);
const deps = (report: FileSecurityReport | undefined): string[] =>
  (report?.unsafe_dependencies ?? []).map((d) => `${d.module}.${d.name}`);

describe("Keras 2 .h5 model_config", () => {
  it.each([
    ["benign_sequential.h5", "a plain Sequential model"],
    ["benign_functional.h5", "a Functional model with a nested Sequential, wrappers and TFOpLambda math"],
    ["benign_latest.h5", "the same written with libver='latest' (superblock v3, v2 object headers)"],
    ["benign_userblock.h5", "a file with a 1024-byte user block before the superblock"],
    ["benign_nan.h5", "a config holding NaN, which Python's json writes and reads"],
  ])("%s stays Pass (%s)", async (name) => {
    const report = await scanPaths([join(KERAS, name)]);
    expect(report.file_security_reports).toEqual([]);
    expect(report.scanned_files[0]!.formats).toEqual(["hdf5", "keras-h5"]);
  });

  it("an HDF5 file without model_config is HDF5 data: Pass, format hdf5", async () => {
    const report = await scanPaths([join(KERAS, "plain_data.h5")]);
    expect(report.severity).toBe(1);
    expect(report.scanned_files[0]!.formats).toEqual(["hdf5"]);
  });

  it("records the classes a config loads, inferring Keras 2 modules from the key that holds them", async () => {
    const inventory = await inspect(await FileSource.open(join(KERAS, "benign_functional.h5")));
    const names = inventory.imports.map((i) => `${i.module}.${i.name}`);
    expect(names).toEqual(
      expect.arrayContaining([
        "keras.models.Functional",
        "keras.models.Sequential",
        "keras.layers.Bidirectional",
        "keras.layers.LSTM",
        "keras.layers.TimeDistributed",
        "keras.initializers.Orthogonal",
        "keras.regularizers.L2",
        "keras.constraints.MaxNorm",
        "keras.optimizers.Adam",
        "tensorflow.math.add",
        "tensorflow.__operators__.getitem",
      ]),
    );
    expect(inventory.imports.every((i) => i.opcode === "keras-config")).toBe(true);
  });

  it("a Lambda with marshaled bytecode (Keras 2 list form) is Alert and lists what the code names", async () => {
    const report = await scanFile("lambda_keras2.h5");
    expect(report!.severity).toBe(3);
    const lambda = report!.indicators.find((i) => i.id === "keras.lambda")!;
    expect(lambda.severity).toBe(3);
    expect(lambda.message).toContain('"sequential/lambda"');
    expect(lambda.message).toContain("function <lambda>");
    expect(lambda.message).toContain("names: __import__, system");
    expect(lambda.message).toContain('"os"');
    expect(lambda.message).toContain("saved by Keras 2.15.0");
    expect(lambda.references).toContain("https://nvd.nist.gov/vuln/detail/CVE-2024-3660");
  });

  it("a Lambda nested in TimeDistributed inside a Sequential inside a Functional model is found", async () => {
    const report = await scanFile("nested_lambda.h5");
    expect(report!.severity).toBe(3);
    expect(report!.indicators[0]!.message).toContain('"outer/inner/td/hidden_lambda"');
  });

  it("a Lambda naming a module function (function_type 'function') is judged as that import", async () => {
    const report = await scanFile("lambda_named_os_system.h5");
    expect(report!.severity).toBe(3);
    expect(deps(report)).toContain("os.system");
  });

  it("a TFOpLambda naming tf.io.write_file is Alert through the rules", async () => {
    const report = await scanFile("tfoplambda_write_file.h5");
    expect(report!.severity).toBe(3);
    expect(deps(report)).toContain("tensorflow.io.write_file");
  });

  it("an unknown custom layer class is Warning", async () => {
    const report = await scanFile("custom_unknown.h5");
    expect(report!.severity).toBe(2);
    expect(deps(report)).toEqual(["keras.layers.MyCustomLayer"]);
  });

  it("a model_config that is not JSON is Warning", async () => {
    const report = await scanFile("not_json.h5");
    expect(report!.severity).toBe(2);
    expect(ids(report)).toContain("keras.invalid_config");
  });

  it("attributes in dense storage (unreadable here) make the file Warning, not Pass", async () => {
    const report = await scanFile("dense_attributes.h5");
    expect(report!.severity).toBe(2);
    expect(ids(report)).toContain("hdf5.dense_attributes");
  });

  it("a truncated file is Warning", async () => {
    const report = await scanFile("truncated.h5");
    expect(report!.severity).toBe(2);
    expect(ids(report)).toEqual(["hdf5.unreadable"]);
  });
});

describe("HDF5 prefix reading", () => {
  const bytes = readFileSync(join(KERAS, "lambda_keras2.h5"));

  it("retries with a longer prefix when the first is too short", async () => {
    const source = new BufferSource(bytes);
    const result = await readRootAttributes(source, 0, () => true, { prefixes: [256, 1024] });
    expect(result.ok).toBe(true);
    if (result.ok) expect(result.root.attributes.map((a) => a.name)).toContain("model_config");
  });

  it("reports a file whose root cannot be read within the memory cap as over the limit", async () => {
    const result = await readRootAttributes(new BufferSource(bytes), 0, () => true, { maxBytes: 300, prefixes: [] });
    expect(result).toMatchObject({ ok: false, overLimit: true });
    const inventory = await inspect(new BufferSource(bytes.subarray(0, 200), "cut.h5"));
    expect(inventory.indicators.map((i) => i.id)).toEqual(["hdf5.unreadable"]);
  });

  it("finds the signature after a user block", () => {
    const head = new Uint8Array(4096);
    head.set(bytes.subarray(0, 8), 2048);
    expect(findSignature(head)).toBe(2048);
    expect(findSignature(new Uint8Array(4096))).toBe(-1);
  });

  it("warns on a Lambda whose function key was damaged away (found by the property below)", async () => {
    for (const [at, value] of [
      [2872, 32], // "function" → " unction"
      [2873, 35], // "function" → "f#nction"
      [2879, 0x5f], // "function" → "functio_"
    ] as const) {
      const copy = new Uint8Array(bytes);
      copy[at] = value;
      copy[2885] = 35; // and the base64 of the bytecode no longer starts like a code object
      const inventory = await inspect(new BufferSource(copy, "damaged.h5"));
      expect(inventory.indicators.map((i) => i.id)).toContain("keras.invalid_config");
      expect(judge(inventory, await loadClassifier()).severity).toBeGreaterThanOrEqual(2);
    }
  });

  it("warns on a layer whose class name was damaged away (found by the property below)", async () => {
    const copy = new Uint8Array(bytes);
    copy[2780] = 32; // "class_name" → " lass_name": Keras refuses the layer, the Lambda it held must not vanish
    copy[2885] = 32; // and the base64 of the bytecode no longer starts like a code object
    const inventory = await inspect(new BufferSource(copy, "damaged.h5"));
    expect(inventory.indicators.map((i) => i.id)).toContain("keras.invalid_config");
    expect(judge(inventory, await loadClassifier()).severity).toBe(2);
  });

  it("never throws or passes silently on damaged files", async () => {
    const classifier = await loadClassifier();
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: 8, max: bytes.length - 1 }), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 8,
        }),
        async (edits) => {
          const copy = new Uint8Array(bytes);
          for (const [at, value] of edits) copy[at] = value;
          const inventory = await inspect(new BufferSource(copy, "mutated.h5"));
          expect(inventory.indicators.map((i) => i.id)).not.toContain("scan.error");
          // The Lambda survives unless the damage hit the structure, which is then reported. A file whose
          // model_config attribute was renamed away is not a Keras model to any loader.
          if (inventory.formats.includes("keras-h5"))
            expect(judge(inventory, classifier).severity).toBeGreaterThanOrEqual(2);
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe("Keras 3 config.json (.keras)", () => {
  const config = (name: string): Uint8Array => readFileSync(join(KERAS, "keras3", name));

  it("a Functional model with a nested Sequential, keras.layers modules and registered names is Pass", async () => {
    const { inventory, report } = await judgeBytes(config("benign_config.json"), "config.json");
    expect(report.severity).toBe(1);
    expect(inventory.formats).toEqual(["keras-v3"]);
    const names = inventory.imports.map((i) => `${i.module}.${i.name}`);
    expect(names).toEqual(
      expect.arrayContaining([
        "keras.src.models.functional.Functional",
        "keras.Sequential",
        "keras.layers.Dense",
        "keras.DTypePolicy",
        "keras.initializers.GlorotUniform",
        "keras.regularizers.L2",
        "keras.optimizers.Adam",
        "keras.losses.SparseCategoricalCrossentropy",
      ]),
    );
  });

  it("a Lambda with a __lambda__ dict is Alert", async () => {
    const { report } = await judgeBytes(config("lambda_config.json"), "config.json");
    expect(report.severity).toBe(3);
    const lambda = report.indicators.find((i) => i.id === "keras.lambda")!;
    expect(lambda.message).toContain("names: __import__, system");
    expect(lambda.message).toContain("safe_mode=False");
  });

  it("a Lambda inside a nested sub-model is Alert", async () => {
    const { report } = await judgeBytes(config("nested_lambda_config.json"), "config.json");
    expect(report.severity).toBe(3);
    expect(report.indicators[0]!.message).toContain('"functional/block/deep_lambda"');
  });

  it("a custom object with module os and class_name system is Alert", async () => {
    const { report } = await judgeBytes(config("custom_os_system_config.json"), "config.json");
    expect(report.severity).toBe(3);
    expect(deps(report)).toContain("os.system");
  });

  it("an unknown custom class is Warning", async () => {
    const { report } = await judgeBytes(config("custom_unknown_config.json"), "config.json");
    expect(report.severity).toBe(2);
    expect(deps(report)).toEqual(["my_package.layers.FancyLayer"]);
  });

  it("a serialized function naming builtins.exec is Alert", async () => {
    const { report } = await judgeBytes(config("function_exec_config.json"), "config.json");
    expect(report.severity).toBe(3);
    expect(deps(report)).toContain("builtins.exec");
  });

  it("JSON files that are not Keras configs are not claimed", async () => {
    const { inventory } = await judgeBytes(new TextEncoder().encode('{"architectures": ["BertModel"]}'), "config.json");
    expect(inventory.formats).toEqual([]);
    const other = await judgeBytes(new TextEncoder().encode('{"class_name": 3}'), "tokenizer.json");
    expect(other.inventory.formats).toEqual([]);
  });

  it("a config.json member (of a .keras zip) that is not JSON is Warning", async () => {
    const inventory: FileInventory = {
      path: "m.keras",
      size: 5,
      formats: [],
      imports: [],
      indicators: [],
      errors: [],
      bytes_read: 0,
    };
    const ctx = new InspectContext(inventory, DEFAULT_SCAN_LIMITS, "m.keras!config.json");
    const source = new BufferSource(new TextEncoder().encode("{oops"));
    expect(await kerasConfigFormat.inspect(source, ctx, await probe(source))).toBe(false);
    expect(inventory.indicators.map((i) => i.id)).toEqual(["keras.invalid_config"]);
  });

  it("hostile nesting and size stay bounded", async () => {
    const deep = "[".repeat(200_000) + "]".repeat(200_000);
    const text = `{"class_name": "Sequential", "config": {"layers": ${deep}}}`;
    const { inventory, report } = await judgeBytes(new TextEncoder().encode(text), "config.json");
    expect(inventory.indicators.map((i) => i.id)).toContain("scan.limit");
    expect(report.severity).toBe(2);
  });

  it.each([
    ["benign.keras", 1, []],
    ["lambda.keras", 3, ["keras.lambda"]],
    ["custom_os_system.keras", 3, []],
  ])("the .keras zip %s is read through the zip reader (severity %i)", async (name, severity, indicators) => {
    const report = await scanPaths([join(KERAS, "keras3", name)]);
    expect(report.severity).toBe(severity);
    expect(report.scanned_files[0]!.formats).toEqual(["zip", "keras-v3", "hdf5"]);
    expect(ids(report.file_security_reports[0])).toEqual(indicators);
    if (name === "lambda.keras")
      expect(report.file_security_reports[0]!.indicators[0]!.message).toContain("saved by Keras 3.3.3");
  });
});

const zeros = (n: number): number[] => Array.from({ length: n }, () => 0);

describe("CPython marshal reader", () => {
  const files = readdirSync(join(KERAS, "marshal")).filter((f) => f.endsWith(".bin"));
  const layouts: Record<string, string> = {
    py27: "Python 2",
    py36: "Python 3.0-3.7",
    py37: "Python 3.0-3.7",
    py38: "Python 3.8-3.10",
    py39: "Python 3.8-3.10",
    py310: "Python 3.8-3.10",
  };

  it.each(files)("reads the lambda marshaled by %s", (file) => {
    const code = describeMarshaledCode(readFileSync(join(KERAS, "marshal", file)));
    if (typeof code === "string") throw new Error(code);
    expect(code.name).toBe("<lambda>");
    expect(code.names).toEqual(expect.arrayContaining(["__import__", "system"]));
    expect(code.strings.join(" ")).toContain("echo modelvet-test");
    expect(code.layout).toBe(layouts[file.replace(".bin", "")] ?? "Python 3.11+");
    expect(renderCodeSummary(code)).toContain("function <lambda>");
  });

  it("refuses what is not a whole code object, with a reason", () => {
    expect(describeMarshaledCode(new Uint8Array())).toBe("empty input");
    expect(describeMarshaledCode(new Uint8Array([0x69, 1, 0, 0, 0]))).toMatch(/not a code object/);
    const bytes = readFileSync(join(KERAS, "marshal", "py311.bin"));
    expect(describeMarshaledCode(bytes.subarray(0, bytes.length - 3))).toMatch(/no known code-object layout/);
  });

  it("bounds nesting and counts", () => {
    // A code object whose co_code is followed by 10 000 nested one-element tuples.
    const nested = new Uint8Array([
      0xe3,
      ...zeros(20),
      0x73,
      0,
      0,
      0,
      0,
      ...Array.from({ length: 20_000 }, (_, i) => (i % 2 ? 1 : 0x29)),
    ]);
    expect(describeMarshaledCode(nested)).toMatch(/nesting deeper than/);
    const huge = new Uint8Array([0xe3, ...zeros(20), 0x73, 0, 0, 0, 0, 0x28, 0xff, 0xff, 0xff, 0x7f]);
    expect(describeMarshaledCode(huge)).toMatch(/bad item count/);
  });

  it("never throws on random input", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (tail) => {
        const bytes = new Uint8Array([0xe3, ...tail]);
        expect(["string", "object"]).toContain(typeof describeMarshaledCode(bytes));
      }),
      { numRuns: 2000 },
    );
  });
});

describeShared("keras files of the shared corpus", () => {
  it.each([
    ["benign/keras/sequential_dense.h5", 1],
    ["benign/keras/sequential_dense.keras", 1],
    ["malicious/keras/lambda_marshal.h5", 3],
    ["malicious/keras/lambda_layer.keras", 3],
  ])("%s has severity %i", async (path, severity) => {
    const report = await scanPaths([join(SHARED, "corpus", path)]);
    expect(report.severity).toBe(severity);
  });
});
