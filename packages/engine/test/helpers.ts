import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { afterAll, beforeAll, describe } from "vitest";
import { join } from "node:path";
import {
  ByteReader,
  SourceWindow,
  BufferSource,
  FileSource,
  inspect,
  judge,
  loadClassifier,
  scanPickles,
  type FileInventory,
  type FileSecurityReport,
  type PickleOptions,
  type PickleScan,
} from "../src/index.js";
export { concatBytes } from "../src/source/bytes.js";

export const FIXTURES = join(import.meta.dirname, "fixtures");
export const SHARED = join(import.meta.dirname, "..", "..", "..", "..", "shared");
/** The shared corpora lie beside the repository in CI; a bare clone has none. */
export const HAVE_SHARED = existsSync(join(SHARED, "corpus", "manifest.json"));

/**
 * describe() for a suite that reads the shared corpora: without them it is skipped and says so in one line, so a
 * bare clone's `npm test` passes and shows what it did not run. Every format keeps its own fixtures in the repo.
 */
export function describeShared(title: string, body: () => void): void {
  if (!HAVE_SHARED) console.info(`skipped "${title}": ../shared/corpus is absent beside the repository`);
  describe.skipIf(!HAVE_SHARED)(title, body);
}

export function fixture(name: string): Uint8Array {
  return readFileSync(join(FIXTURES, name));
}

/** Runs the pickle machine over bytes in memory. */
export function scanBytes(bytes: Uint8Array, options: PickleOptions = {}): Promise<PickleScan> {
  const source = new BufferSource(bytes);
  return scanPickles(new ByteReader(new SourceWindow(source)), options);
}

export function globalsOf(scan: PickleScan): string[] {
  return scan.imports.map((i) => (i.name ? `${i.module}.${i.name}` : i.module));
}

export interface AdversarialCase {
  file: string;
  severity: 1 | 2 | 3;
  globals: string[];
  indicators: string[];
  /** Globals of a nested pickle (found by the format-level scan that recurses into payloads). */
  nested: string[];
  note: string;
}

export const ADVERSARIAL: AdversarialCase[] = JSON.parse(
  readFileSync(join(FIXTURES, "adversarial.json"), "utf8"),
) as AdversarialCase[];

/** Inspects a file and judges it with the built-in rules: its inventory, report and indicator ids. */
export async function scanFile(
  path: string,
): Promise<{ inventory: FileInventory; report: FileSecurityReport; ids: string[]; messages: string[] }> {
  const classifier = await loadClassifier();
  const source = await FileSource.open(path);
  try {
    const inventory = await inspect(source);
    const report = judge(inventory, classifier);
    return {
      inventory,
      report,
      ids: inventory.indicators.map((i) => i.id),
      messages: report.indicators.map((i) => i.message),
    };
  } finally {
    await source.close();
  }
}

/** A temporary folder for the enclosing describe block, removed after it: `const dir = tempFolder("x"); dir()`. */
export function tempFolder(prefix: string): () => string {
  let dir = "";
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), `modelvet-${prefix}-`));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  return () => dir;
}
