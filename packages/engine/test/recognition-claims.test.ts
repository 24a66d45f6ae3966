import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FIXTURES, scanFile } from "./helpers.js";

// A name that claims a format the bytes are not valid under is a Warning with the reason, and every other reader a
// loader could apply still runs (torch.load on a .safetensors file unpickles it). Fixtures:
// fixtures/recognition/generate.py.

const DIR = join(FIXTURES, "recognition", "claimed");
const BIN = join(import.meta.dirname, "..", "..", "..", "node_modules", ".bin", "modelvet");

const PICKLES_UNDER_OTHER_NAMES = [
  "pickle-named.safetensors",
  "pickle-named.gguf",
  "pickle-named.onnx",
  "pickle-named.h5",
  "pickle-named.npy",
];

describe("files claimed by name", () => {
  it.each(PICKLES_UNDER_OTHER_NAMES)("%s: format.invalid with the reason, and its pickle still read", async (name) => {
    const { report, ids, inventory } = await scanFile(join(DIR, name));
    expect(report.severity).toBe(3);
    expect(report.unsafe_dependencies.map((d) => `${d.module}.${d.name}`)).toEqual(["os.system"]);
    expect(ids).toEqual(["format.invalid"]);
    expect(inventory.indicators[0]!.message).toMatch(/is not valid .*\(.+\); read as pickle instead/);
  });

  it("reads a pickle whose first bytes pass for a safetensors header length", async () => {
    const { report, ids, inventory } = await scanFile(join(DIR, "pickle-prefix-huge-header.safetensors"));
    expect(inventory.formats).toEqual(["safetensors", "pickle"]);
    expect(ids).toContain("safetensors.header_too_large");
    expect(report.severity).toBe(3);
  });

  it.each([
    ["garbage.pt", "format.invalid", /zip: no zip end record; pickle: not a pickle stream/],
    ["garbage.ckpt", "format.invalid", /not valid PyTorch/],
    ["garbage.safetensors", "format.invalid", /safetensors: no u64 header length/],
    ["text-named.pkl", "format.invalid", /pickle: does not parse/],
    ["model.tflite", "format.unrecognised", /unrecognised model file: \.tflite/],
    ["params.msgpack", "format.unrecognised", /unrecognised model file: \.msgpack/],
  ])("%s is a Warning (%s)", async (name, id, message) => {
    const { report, ids, inventory } = await scanFile(join(DIR, name));
    expect(report.severity).toBe(2);
    expect(ids).toEqual([id]);
    expect(inventory.indicators[0]!.message).toMatch(message);
  });

  it.each(["valid.safetensors", "notes.txt", "config.json", "README.md", "raw-weights.bin"])(
    "%s stays Pass",
    async (name) => {
      const { report, ids } = await scanFile(join(DIR, name));
      expect(report.severity).toBe(1);
      expect(ids).toEqual([]);
    },
  );

  it("says the same through the CLI", () => {
    const run = spawnSync(BIN, ["scan", "--format", "json", DIR], { encoding: "utf8" });
    const report = JSON.parse(run.stdout) as {
      scanned_files: Array<{ path: string; severity: number }>;
    };
    const byName = Object.fromEntries(report.scanned_files.map((f) => [f.path.split("/").pop()!, f.severity]));
    expect(byName).toMatchObject({
      "pickle-named.safetensors": 3,
      "pickle-prefix-huge-header.safetensors": 3,
      "garbage.pt": 2,
      "model.tflite": 2,
      "valid.safetensors": 1,
      "README.md": 1,
    });
    expect(run.status).toBe(1);
  });
});
