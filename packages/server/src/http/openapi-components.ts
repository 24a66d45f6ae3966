/**
 * Named component schemas for the OpenAPI document. Route schemas are written inline (TypeBox objects shared by
 * validation and serialisation); every schema that carries a `title` is moved to `components.schemas.<title>` and
 * replaced by a `$ref` wherever it occurs, so client generators get one named type per shape instead of many
 * anonymous copies. Only the document changes: validation still uses the inline schemas.
 */
type Json = Record<string, unknown>;

/** Nested schemas are far shallower than this; the bound keeps a cyclic object from recursing forever. */
const MAX_DEPTH = 64;

export function nameComponents<T extends Json>(document: T): T {
  const doc = structuredClone(document) as Json & { components?: Json };
  const named: Record<string, unknown> = {};
  for (const path of Object.values((doc.paths ?? {}) as Record<string, Json>))
    for (const operation of Object.values(path)) hoistIn(operation, named, 0);
  // Components can hold named schemas inside other named ones: hoist those too (each once).
  for (const title of Object.keys(named)) named[title] = hoist(named[title], named, 0, true);
  doc.components = { ...doc.components, schemas: { ...(doc.components?.schemas ?? {}), ...named } };
  return doc as T;
}

/** Walks an operation (or any part of it) and replaces titled schemas found under `schema` keys. */
function hoistIn(node: unknown, named: Record<string, unknown>, depth: number): void {
  if (depth > MAX_DEPTH || !node || typeof node !== "object") return;
  for (const [key, value] of Object.entries(node as Json)) {
    if (key === "schema") (node as Json)[key] = hoist(value, named, depth + 1);
    else hoistIn(value, named, depth + 1);
  }
}

/** A schema with its titled parts (and itself, unless `keep`) replaced by references. */
function hoist(schema: unknown, named: Record<string, unknown>, depth: number, keep = false): unknown {
  if (depth > MAX_DEPTH || !schema || typeof schema !== "object") return schema;
  if (Array.isArray(schema)) return schema.map((s) => hoist(s, named, depth + 1));
  const s = schema as Json;
  const out: Json = {};
  for (const [key, value] of Object.entries(s)) {
    if (key === "properties" && value && typeof value === "object")
      out[key] = Object.fromEntries(
        Object.entries(value as Json).map(([name, prop]) => [name, hoist(prop, named, depth + 1)]),
      );
    else if (["items", "anyOf", "oneOf", "allOf", "not", "additionalProperties"].includes(key))
      out[key] = hoist(value, named, depth + 1);
    else out[key] = value;
  }
  const title = typeof s.title === "string" ? s.title : undefined;
  if (!title || keep) return out;
  named[title] ??= out;
  return { $ref: `#/components/schemas/${title}` };
}
