import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FIXTURES, scanFile } from "./helpers.js";

const DIR = join(FIXTURES, "keras", "gadgets");

describe("Keras safe-mode gadgets named by a config", () => {
  it.each([
    ["unsafe_toggle.keras", "keras.config.enable_unsafe_deserialization", "CVE-2025-9906"],
    ["unsafe_toggle_src.keras", "keras.src.saving.serialization_lib.enable_unsafe_deserialization", "CVE-2025-9906"],
    [
      "lambda_set_global_attribute.keras",
      "keras.src.backend.common.global_state.set_global_attribute",
      "CVE-2025-9906",
    ],
    ["get_file.keras", "keras.utils.get_file", "CVE-2025-8747"],
    ["get_file_src.keras", "keras.src.utils.file_utils.get_file", "CVE-2025-8747"],
    ["tf_get_file.keras", "tensorflow.keras.utils.get_file", "CVE-2025-8747"],
    ["get_file.h5", "keras.utils.get_file", "CVE-2025-8747"],
    ["lambda_load_model.keras", "keras.models.load_model", ""],
    ["shutil_copy.keras", "shutil.copyfile", ""],
    ["subprocess_run.keras", "subprocess.run", ""],
  ])("%s: %s is Alert with its reference", async (file, name, cve) => {
    const { report } = await scanFile(join(DIR, file));
    expect(report.severity).toBe(3);
    const dep = report.unsafe_dependencies.find((d) => `${d.module}.${d.name}` === name);
    expect(dep?.severity).toBe(3);
    if (cve) expect(dep!.references.join(" ")).toContain(cve);
  });
});

describe("Lambda layers hidden in wrappers and nested models", () => {
  it.each([
    ["bidirectional_lambda.keras", 1],
    ["bidirectional_backward_lambda.keras", 1],
    ["timedistributed_lambda.keras", 1],
    ["deep_models_lambda.keras", 1],
    ["unsafe_toggle.keras", 1],
    ["timedistributed_lambda.h5", 1],
    ["nested_bidirectional_lambda.h5", 2],
  ])("%s: every Lambda is found (%i) and is Alert", async (file, count) => {
    const { report, inventory } = await scanFile(join(DIR, file));
    expect(report.severity).toBe(3);
    const lambdas = inventory.indicators.filter((i) => i.id === "keras.lambda");
    expect(lambdas).toHaveLength(count);
    const rule = report.indicators.find((i) => i.id === "keras.lambda")!;
    expect(rule.references.join(" ")).toMatch(file.endsWith(".h5") ? /CVE-2025-9905/ : /CVE-2025-9906/);
  });

  it("names the wrapper path of a deeply nested Lambda", async () => {
    const { inventory } = await scanFile(join(DIR, "deep_models_lambda.keras"));
    expect(inventory.indicators.find((i) => i.id === "keras.lambda")?.message).toMatch(/s1\/f2\/s3\/td\/bi\/hidden/);
  });

  it("benign Keras 3 and Keras 2 models with wrappers stay Pass", async () => {
    for (const file of ["keras3/benign.keras", "benign_functional.h5", "benign_sequential.h5"]) {
      const { report } = await scanFile(join(FIXTURES, "keras", file));
      expect(report.severity, file).toBe(1);
    }
  });
});
