import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import ts from "typescript";
import { describe, expect, test } from "vitest";
import * as schemas from "../src/index.js";

/**
 * The wire shapes are written once, in @modelvet/schema. This suite reads every source file of the other packages
 * and fails on a hand-written object type (interface or type literal) that repeats one of those shapes: one that
 * declares every property of a schema object and at most two more. Derived types (`Static<>`, `Pick`, `Omit`) are
 * not declarations of their own, so they pass.
 */
const ROOT = join(import.meta.dirname, "..", "..");
const PACKAGES = ["engine", "cli", "server", "sdk", "web"];
/** The database's table types are storage, not wire: a table may hold the columns an API shape shows. */
const STORAGE = /server\/src\/db\//;
/** Small shapes ({ name, value }) repeat by nature; a mirror of a wire object is larger than this. */
const MIN_PROPERTIES = 4;
const MAX_EXTRA = 2;

interface Declared {
  file: string;
  line: number;
  names: Set<string>;
}

function sourceFiles(dir: string, depth = 0): string[] {
  if (depth > 12) return [];
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(path, depth + 1));
    else if (/\.tsx?$/.test(entry.name) && !entry.name.endsWith(".d.ts")) out.push(path);
  }
  return out;
}

/** Every interface and object type literal of a file, with its property names. */
function declaredObjectTypes(file: string, text: string): Declared[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found: Declared[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isInterfaceDeclaration(node) || ts.isTypeLiteralNode(node)) {
      const names = new Set(
        node.members.filter(ts.isPropertySignature).map((m) => m.name.getText(source).replace(/^["']|["']$/g, "")),
      );
      if (names.size >= MIN_PROPERTIES)
        found.push({ file, line: source.getLineAndCharacterOfPosition(node.getStart()).line + 1, names });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** The property names of every object schema @modelvet/schema exports, by export name. */
function wireShapes(): Map<string, Set<string>> {
  const shapes = new Map<string, Set<string>>();
  for (const [name, value] of Object.entries(schemas)) {
    const properties = (value as { type?: string; properties?: object } | undefined)?.properties;
    if (
      (value as { type?: string }).type === "object" &&
      properties &&
      Object.keys(properties).length >= MIN_PROPERTIES
    )
      shapes.set(name, new Set(Object.keys(properties)));
  }
  return shapes;
}

/** The wire shapes a declared type repeats. */
function mirrored(declared: Declared, shapes: Map<string, Set<string>>): string[] {
  return [...shapes]
    .filter(
      ([, props]) => [...props].every((p) => declared.names.has(p)) && declared.names.size <= props.size + MAX_EXTRA,
    )
    .map(([name]) => name);
}

describe("no mirrored copy of the API's shapes", () => {
  const shapes = wireShapes();

  test("the schema package exposes the shapes this check compares against", () => {
    for (const name of ["ScanReport", "FileScan", "Model", "Webhook", "WebhookDelivery", "WebhookEvent"])
      expect([...shapes.keys()]).toContain(name);
  });

  test("a hand-written copy of a shape is caught (the check can fail)", () => {
    const copy = `export interface Hook { webhook_id: string; workspace_id: string; url: string; description: string;
      created_at: string; created_by: string }`;
    const [declared] = declaredObjectTypes("copy.ts", copy);
    expect(mirrored(declared!, shapes)).toContain("Webhook");
    const nested = `type Answer = { body: { delivery_id: string; webhook_id: string; event: string; state: string;
      attempts: number; last_status: number | null; last_error: string | null; created_at: string; updated_at: string;
      next_attempt_at: string | null; delivered_at: string | null; attempt_log: unknown[] } }`;
    expect(declaredObjectTypes("nested.ts", nested).flatMap((d) => mirrored(d, shapes))).toContain("WebhookDelivery");
  });

  test("no source file of the engine, CLI, server, SDK or web UI declares one", () => {
    const files = PACKAGES.flatMap((p) => sourceFiles(join(ROOT, p, "src"))).filter((f) => !STORAGE.test(f));
    expect(files.length).toBeGreaterThan(100);
    const found = files.flatMap((file) =>
      declaredObjectTypes(file, readFileSync(file, "utf8")).flatMap((d) =>
        mirrored(d, shapes).map((shape) => `${d.file.slice(ROOT.length + 1)}:${d.line} repeats ${shape}`),
      ),
    );
    expect(found).toEqual([]);
  });
});
