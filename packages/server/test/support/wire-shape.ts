import type { TSchema } from "typebox";
import { Value } from "typebox/value";
import { expect } from "vitest";

/**
 * Asserts that a value the service put on the wire matches its @modelvet/schema shape: every field declared, of its
 * type and format, and no field the schema does not name. Fails with each mismatch's path and message.
 */
export function expectShape(schema: TSchema, value: unknown, what: string): void {
  const problems = [...Value.Errors(schema, value)].map((e) => `${e.instancePath || "(top)"}: ${e.message}`);
  expect(problems, `${what} does not match its schema`).toEqual([]);
}
