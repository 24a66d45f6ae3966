import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { ErrorObject, ValidateFunction } from "ajv";

/**
 * Validates a user rules file (`--rules FILE`) against the published schema (rules/rules-file.schema.json), so
 * a typo in a key, a wrong type, a bare array or `{}` is refused with the JSON path of the problem instead of
 * being silently ignored.
 */
let validator: Promise<ValidateFunction> | undefined;

export function rulesFileValidator(rulesDir: string): Promise<ValidateFunction> {
  // Loaded only when a user rules file is given: a scan without --rules never pays for the validator.
  validator ??= Promise.all([readFile(join(rulesDir, "rules-file.schema.json"), "utf8"), import("ajv")]).then(
    ([text, { Ajv }]) =>
      new Ajv({ allErrors: true, strict: true, strictRequired: false }).compile(JSON.parse(text) as object),
  );
  return validator;
}

/** Problems as `$.rules[0].severity: must be one of 1, 2, 3`, at most `max` of them. */
export function describeSchemaErrors(errors: ErrorObject[], max = 5): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const error of errors) {
    // anyOf/required branches repeat one problem several times; keep the most telling line.
    if (error.keyword === "anyOf" || error.schemaPath.startsWith("#/anyOf/")) continue;
    const line = `${jsonPath(error.instancePath)}: ${problem(error)}`;
    if (seen.has(line)) continue;
    seen.add(line);
    out.push(line);
  }
  if (out.length === 0 && errors.length > 0) out.push("$: needs at least one of rules, indicators, modules, names");
  return out.length > max ? [...out.slice(0, max), `… and ${out.length - max} more`] : out;
}

function jsonPath(pointer: string): string {
  if (!pointer) return "$";
  return (
    "$" +
    pointer
      .split("/")
      .slice(1)
      .map((part) => part.replace(/~1/g, "/").replace(/~0/g, "~"))
      .map((part) =>
        /^\d+$/.test(part) ? `[${part}]` : /^[A-Za-z_$][\w$]*$/.test(part) ? `.${part}` : `[${JSON.stringify(part)}]`,
      )
      .join("")
  );
}

function problem(error: ErrorObject): string {
  const p = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case "additionalProperties":
      return `unknown key "${String(p.additionalProperty)}"`;
    case "required":
      return `missing key "${String(p.missingProperty)}"`;
    case "enum":
      return `must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}`;
    case "type":
      return `must be ${String(p.type)}`;
    case "minProperties":
      return "is empty: give at least one of rules, indicators, modules, names";
    default:
      return error.message ?? error.keyword;
  }
}
