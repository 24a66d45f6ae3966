import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { inspect } from "../src/scan-item.js";
import { loadClassifier } from "../src/scan.js";
import { judge } from "../src/policy/judge.js";
import type { Classifier } from "../src/policy/classify.js";
import { FileSource } from "../src/source/byte-source.js";
import { moduleFileOf, remoteCodeFindings } from "../src/formats/remote-code.js";
import { FIXTURES } from "./helpers.js";

const DIR = join(FIXTURES, "formats", "remote");
let classifier: Classifier;
beforeAll(async () => {
  classifier = await loadClassifier();
});

async function scan(name: string) {
  const source = await FileSource.open(join(DIR, name));
  try {
    const inventory = await inspect(source);
    return { inventory, report: judge(inventory, classifier), ids: inventory.indicators.map((i) => i.id) };
  } finally {
    await source.close();
  }
}

describe("remote code", () => {
  it("warns on auto_map, naming local and external modules", async () => {
    const { report, inventory } = await scan("config.json");
    expect(report.severity).toBe(2);
    expect(inventory.formats).toEqual(["hf-config"]);
    const messages = Object.fromEntries(inventory.indicators.map((i) => [i.id, i.message]));
    expect(messages["remote_code.auto_map"]).toMatch(/configuration_my\.py, modeling_my\.py/);
    expect(messages["remote_code.auto_map_external"]).toMatch(/modeling_shared\.py of other-org\/shared-code/);
  });

  it("ignores a config without auto_map", async () => {
    const { report, inventory } = await scan("plain_config.json");
    expect(report.severity).toBe(1);
    expect(inventory.formats).toEqual([]);
  });

  it("analyses tokenizer_config.json chat templates (named list) and its auto_map", async () => {
    const { report, ids, inventory } = await scan("tokenizer_config.json");
    expect(report.severity).toBe(3);
    expect(ids).toEqual(
      expect.arrayContaining(["chat_template.dunder", "chat_template.gadget", "remote_code.auto_map"]),
    );
    expect(inventory.indicators.find((i) => i.id === "chat_template.dunder")?.message).toMatch(
      /^chat_template\[tool_use\]/,
    );
  });

  it("passes a benign tokenizer_config.json template", async () => {
    const { report, inventory } = await scan("benign_tokenizer_config.json");
    expect(report.severity).toBe(1);
    expect(inventory.formats).toEqual(["chat-template"]);
  });

  it("maps class references to files", () => {
    expect(moduleFileOf("modeling_my.MyModel")).toEqual({ file: "modeling_my.py" });
    expect(moduleFileOf("org/repo--sub.modeling.X")).toEqual({ repo: "org/repo", file: "sub/modeling.py" });
  });

  it("flags .py files beside weights (same folder or the folder above), not elsewhere", () => {
    const findings = remoteCodeFindings([
      { path: "repo/model.safetensors", formats: ["safetensors"] },
      { path: "repo/modeling_my.py", formats: [] },
      { path: "repo/onnx/model.onnx", formats: ["onnx"] },
      { path: "other/setup.py", formats: [] },
      { path: "repo2/config.json", formats: ["hf-config"] },
      { path: "repo2/helper.py", formats: [] },
      { path: "root/pipeline.py", formats: [] },
      { path: "root/unet/diffusion_pytorch_model.bin", formats: ["zip", "pytorch", "pickle"] },
      { path: "C:\\models\\x\\model.gguf", formats: ["gguf"] },
      { path: "C:\\models\\x\\run.PY", formats: [] },
    ]);
    expect(findings.map((f) => f.path)).toEqual(["repo/modeling_my.py", "root/pipeline.py", "C:\\models\\x\\run.PY"]);
    expect(findings[0]!.id).toBe("remote_code.python_file");
    expect(findings[0]!.message).toContain("model.safetensors");
  });

  it("returns nothing without weights", () => {
    expect(remoteCodeFindings([{ path: "a/b.py", formats: [] }])).toEqual([]);
  });
});
