import type { FileScan, FileScanResult, IntegrationField, IntegrationVariable, ModelConfig } from "./types.js";

// Spellings accepted for compatibility with snippets written for other file-scanning SDKs.
const INTEGRATION_TYPES: Record<string, "CUSTOM"> = { CUSTOM: "CUSTOM", INTEGRATION_TYPE_CUSTOM: "CUSTOM" };
const SENSITIVITIES: Record<string, "SECRET" | "PUBLIC"> = {
  SECRET: "SECRET",
  PUBLIC: "PUBLIC",
  VARIABLE_SENSITIVITY_WORKSPACE_SECRET: "SECRET",
  VARIABLE_SENSITIVITY_USER_SECRET: "SECRET",
  VARIABLE_SENSITIVITY_PUBLIC: "PUBLIC",
};

export function integrationType(value: string): "CUSTOM" {
  const kind = INTEGRATION_TYPES[String(value).toUpperCase()];
  if (!kind) throw new TypeError(`integrationType must be "CUSTOM", got ${JSON.stringify(value)}`);
  return kind;
}

export function integrationSchema(schema: IntegrationVariable[]): IntegrationField[] {
  return schema.map((variable, i) => {
    if (typeof variable?.name !== "string" || variable.sensitivity === undefined) {
      throw new TypeError(`integrationSchema[${i}] needs "name" and "sensitivity" (and usually "value")`);
    }
    const sensitivity = SENSITIVITIES[String(variable.sensitivity).toUpperCase()];
    // The value is not echoed: it may be the secret put in the wrong slot.
    if (!sensitivity)
      throw new TypeError(`integrationSchema[${i}] (${variable.name}): sensitivity must be SECRET or PUBLIC`);
    return variable.value == null
      ? { name: variable.name, sensitivity }
      : { name: variable.name, sensitivity, value: variable.value };
  });
}

export function checkModelConfig(config: ModelConfig): void {
  if (typeof config?.hugging_face?.model_uri !== "string" || config.hugging_face.model_uri === "") {
    throw new TypeError('modelConfig must be { hugging_face: { model_uri: "org/repo", revision?: "main" } }');
  }
}

export function checkRam(megabytes: number | undefined): void {
  if (megabytes !== undefined && !(Number.isInteger(megabytes) && megabytes > 0)) {
    throw new TypeError("ramRequestMegabytes must be a positive whole number of megabytes");
  }
}

/** The scan with its report flattened in (see FileScanResult). */
export function liftReport(scan: FileScan): FileScanResult {
  const { result: report, ...rest } = scan;
  if (!report) return rest;
  return {
    ...rest,
    file_security_reports: report.file_security_reports,
    scanned_files: report.scanned_files,
    stats: report.stats,
  };
}
