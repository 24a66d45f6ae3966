import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { concatBytes as concat } from "../src/source/bytes.js";
export { concat };
import { FIXTURES } from "./helpers.js";
import {
  BufferSource,
  FileSource,
  inspect,
  judge,
  loadClassifier,
  type ByteSource,
  type FileInventory,
  type ScanLimits,
} from "../src/index.js";

/** Fixtures written by fixtures/compressed/generate.py. */
export const COMPRESSED = join(FIXTURES, "compressed");
/** Severities of the indicators these readers emit, layered on the built-in pack until the lead lists the file. */
export const COMPRESSION_INDICATORS = join(import.meta.dirname, "..", "rules", "indicators-compression.json");

const classifier = await loadClassifier({ rulesFiles: [COMPRESSION_INDICATORS] });

export interface Judged {
  inventory: FileInventory;
  severity: number;
  /** `module.name` of every import judged Warning or Alert. */
  flagged: string[];
  /** Members where each flagged import was found: `posix.system` → ["b/payload.pkl"]. */
  membersOf: (global: string) => string[];
  /** Indicator ids, in order of discovery. */
  indicators: string[];
  formats: string[];
  bytesRead: number;
  ms: number;
}

export async function judgeSource(source: ByteSource, limits?: Partial<ScanLimits>): Promise<Judged> {
  const started = Date.now();
  const inventory = await inspect(source, limits);
  const ms = Date.now() - started;
  const report = judge(inventory, classifier);
  const flagged = report.unsafe_dependencies.map((d) => `${d.module}.${d.name}`);
  return {
    inventory,
    severity: report.severity,
    flagged,
    membersOf: (global) => inventory.imports.filter((i) => `${i.module}.${i.name}` === global).map((i) => i.member),
    indicators: inventory.indicators.map((i) => i.id),
    formats: inventory.formats,
    bytesRead: inventory.bytes_read,
    ms,
  };
}

/** Inspects a file from disk (a FileSource, so bytes_read counts real reads) and grades it. */
export async function judgeFile(path: string, limits?: Partial<ScanLimits>): Promise<Judged> {
  const source = await FileSource.open(path, path.split("/").pop());
  try {
    return await judgeSource(source, limits);
  } finally {
    await source.close();
  }
}

export function judgeFixture(name: string, limits?: Partial<ScanLimits>): Promise<Judged> {
  return judgeFile(join(COMPRESSED, name), limits);
}

export function judgeBytes(bytes: Uint8Array, name = "buffer", limits?: Partial<ScanLimits>): Promise<Judged> {
  return judgeSource(new BufferSource(bytes, name), limits);
}

export async function fixtureBytes(name: string): Promise<Uint8Array> {
  return new Uint8Array(await readFile(join(COMPRESSED, name)));
}

const latin1 = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));

/** Pickle opcodes from a latin-1 string (readable in tests). */
export const ops = latin1;

/** GLOBAL posix.system, the command, TUPLE1, REDUCE: the call, left on the stack. */
export const PAYLOAD_CALL = ops("cposix\nsystem\nX\x12\x00\x00\x00echo modelvet-test\x85R");
