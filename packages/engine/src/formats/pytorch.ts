import type { FormatContext } from "./types.js";
import type { PickleScan } from "../pickle/machine.js";
import type { Value } from "../pickle/values.js";
import type { ByteSource } from "../source/byte-source.js";
import { bytesAt } from "../source/bytes.js";
import { recordPickleScan, runPickles } from "./pickle.js";

/**
 * PyTorch's own layouts on top of the generic containers:
 * - the zip checkpoint of torch.save (`<prefix>/data.pkl`, raw storages in `<prefix>/data/<key>`),
 * - TorchScript archives of torch.jit.save (the same plus `code/` sources and `constants.pkl`),
 * - the pre-0.4 tar checkpoint (`sys_info`, `pickle`, `storages`, `tensors`).
 * The containers read the bytes; this module knows what the members mean to torch.
 */

// ---------------------------------------------------------------------------------------------------------------
// Zip checkpoints and TorchScript archives

/** What the member names of a zip say about it. */
export interface TorchZipLayout {
  /** Top folders holding a `data.pkl` or `constants.pkl` (torch names them after the file: `archive`, `model`…). */
  prefixes: Set<string>;
  /** A torch.save checkpoint: some `<prefix>/data.pkl`. */
  checkpoint: boolean;
  /** A TorchScript archive: `<prefix>/code/…` entries or a `<prefix>/constants.pkl`. */
  torchScript: boolean;
}

/** Reads the layout from the entry names (no bytes). Undefined when nothing looks like torch. */
export function torchZipLayout(names: Iterable<string>): TorchZipLayout | undefined {
  const layout: TorchZipLayout = { prefixes: new Set(), checkpoint: false, torchScript: false };
  const codePrefixes = new Set<string>();
  for (const name of names) {
    const slash = name.indexOf("/");
    if (slash <= 0) continue;
    const prefix = name.slice(0, slash);
    const rest = name.slice(slash + 1);
    if (rest === "data.pkl") {
      layout.prefixes.add(prefix);
      layout.checkpoint = true;
    } else if (rest === "constants.pkl") {
      layout.prefixes.add(prefix);
      layout.torchScript = true;
    } else if (rest.startsWith("code/")) codePrefixes.add(prefix);
  }
  for (const prefix of codePrefixes) {
    if (layout.prefixes.has(prefix)) layout.torchScript = true;
  }
  return layout.prefixes.size > 0 ? layout : undefined;
}

/**
 * A raw tensor storage: `<prefix>/data/<key>` (torch.save, TorchScript) or `<prefix>/constants/<key>` (tensors of
 * a TorchScript constants.pkl). torch reads these bytes as numbers, never as code.
 */
export function isTorchStorage(name: string, layout: TorchZipLayout): boolean {
  const slash = name.indexOf("/");
  if (slash <= 0 || !layout.prefixes.has(name.slice(0, slash))) return false;
  const rest = name.slice(slash + 1);
  const folder = rest.startsWith("data/") ? 5 : rest.startsWith("constants/") ? 10 : 0;
  return folder > 0 && rest.length > folder && !rest.includes("/", folder);
}

/** TorchScript source of an archive: `<prefix>/code/**.py` (the `.debug_pkl` twins are pickles). */
export function isTorchScriptSource(name: string, layout: TorchZipLayout): boolean {
  const slash = name.indexOf("/");
  return (
    slash > 0 &&
    layout.prefixes.has(name.slice(0, slash)) &&
    name.startsWith("code/", slash + 1) &&
    name.endsWith(".py")
  );
}

/** How many bytes of a storage are sniffed before it is skipped. */
export const STORAGE_SNIFF_BYTES = 16;

/**
 * Whether the first bytes of a tensor storage could be anything a loader would run: a pickle (PROTO 0–5, or the
 * opening GLOBAL/INST line of a protocol 0/1 pickle, which torch.load would run if pointed at the member with
 * `pickle_file=`), or a container that some loader might open. Float data essentially never matches these
 * multi-byte patterns, so a storage that does is worth reading; every other storage is skipped unread.
 */
export function storageMayHoldCode(head: Uint8Array): boolean {
  if (head.length < 2) return false;
  if (head[0] === 0x80 && head[1]! <= 5) return true;
  return looksLikeTextPickleStart(head) || startsWithContainerMagic(head);
}

const IDENT_START = /[A-Za-z_]/;
const IDENT_PART = /[A-Za-z0-9_.]/;

/** `c` or `i` (GLOBAL/INST), optionally after MARKs and empty containers, then a module name up to `\n`. */
function looksLikeTextPickleStart(head: Uint8Array): boolean {
  let i = 0;
  while (i < head.length && "(]})N".includes(String.fromCharCode(head[i]!))) i++;
  const op = head[i];
  if (op !== 0x63 /* c */ && op !== 0x69 /* i */) return false;
  const name = head.subarray(i + 1);
  if (name.length < 3 || !IDENT_START.test(String.fromCharCode(name[0]!))) return false;
  for (const byte of name) {
    if (byte === 0x0a) return true;
    if (!IDENT_PART.test(String.fromCharCode(byte))) return false;
  }
  return true; // a module name running past the sniffed bytes
}

/** Multi-byte magics only: a two-byte signature (zlib) would match float data far too often. */
const CONTAINER_MAGICS: readonly Uint8Array[] = [
  Uint8Array.of(0x50, 0x4b, 0x03, 0x04), // zip
  Uint8Array.of(0x50, 0x4b, 0x05, 0x06), // empty zip
  Uint8Array.of(0x1f, 0x8b, 0x08), // gzip (deflate)
  Uint8Array.of(0x42, 0x5a, 0x68), // bzip2 "BZh"
  Uint8Array.of(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00), // xz
  Uint8Array.of(0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c), // 7z
  Uint8Array.of(0x04, 0x22, 0x4d, 0x18), // lz4 frame
  Uint8Array.of(0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59), // .npy
];

export function startsWithContainerMagic(head: Uint8Array): boolean {
  return CONTAINER_MAGICS.some((magic) => bytesAt(head, 0, magic));
}

/** A TorchScript source file of an archive, decoded. */
export interface TorchScriptSource {
  member: string;
  text: string;
  /** Only the first bytes were read (the file is larger than the read bound). */
  truncated: boolean;
}

/**
 * Names in TorchScript source that reach Python or the file system. TorchScript compiles a closed language: its
 * calls go to ATen/prim operators and registered custom ops (`torch.ops.<ns>.<op>`, which need a library the file
 * cannot bring). A module path such as `os.` or `subprocess`, Python builtins that run or load code, or the few
 * ATen operators that read and write files therefore mean the source was crafted, not compiled by torch.jit.
 */
const DANGEROUS_SOURCE: readonly { pattern: RegExp; what: string }[] = [
  {
    pattern:
      /(?<![\w.])(?:os|sys|subprocess|shutil|socket|importlib|builtins|__builtin__|pickle|marshal|ctypes|pty|posix|nt|runpy|urllib|requests|http|code|pathlib)\s*\./g,
    what: "a Python module",
  },
  { pattern: /(?<![\w.])(?:eval|exec|compile|open|__import__|execfile|breakpoint)\s*\(/g, what: "a Python builtin" },
  { pattern: /(?<![\w])(?:torch|aten)\.(?:load|save|from_file)\s*\(/g, what: "a file-reading operator" },
  { pattern: /(?<![\w])torch\.(?:hub|jit\.load|jit\.save|package)\b/g, what: "a model-loading API" },
];

const MAX_SOURCE_FINDINGS = 20;

/** A call in TorchScript source that reaches Python or the file system. */
export interface TorchScriptCall {
  line: number;
  text: string;
  what: string;
}

/** Finds dangerous names in TorchScript source, ignoring string literals and comments. */
export function dangerousTorchScriptCalls(source: string): TorchScriptCall[] {
  const code = blankStringsAndComments(source);
  const found: TorchScriptCall[] = [];
  for (const { pattern, what } of DANGEROUS_SOURCE) {
    pattern.lastIndex = 0;
    for (const match of code.matchAll(pattern)) {
      const at = match.index;
      const line = lineOf(source, at);
      found.push({ line, text: lineText(source, at).trim().slice(0, 160), what });
      if (found.length >= MAX_SOURCE_FINDINGS) return found;
    }
  }
  return found.sort((a, b) => a.line - b.line);
}

/** Replaces the insides of string literals and comments by spaces, keeping every offset. */
function blankStringsAndComments(source: string): string {
  return source.replace(/"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|#[^\n]*/g, (m) =>
    m.startsWith("#") ? " ".repeat(m.length) : m[0]! + " ".repeat(m.length - 2) + m[0]!,
  );
}

function lineOf(text: string, at: number): number {
  let line = 1;
  for (let i = text.indexOf("\n"); i >= 0 && i < at; i = text.indexOf("\n", i + 1)) line++;
  return line;
}

function lineText(text: string, at: number): string {
  const start = text.lastIndexOf("\n", at - 1) + 1;
  const end = text.indexOf("\n", at);
  return text.slice(start, end < 0 ? undefined : end);
}

const LISTED_CODE_FILES = 12;

/**
 * Reports the TorchScript source of an archive: one informational indicator listing the code files (a reviewer
 * sees that the model carries code), and an Alert for each call that reaches Python or the file system.
 */
export function reportTorchScriptSources(
  ctx: FormatContext,
  archiveMember: string,
  sources: TorchScriptSource[],
): void {
  if (sources.length === 0) return;
  const names = sources.map((s) => s.member);
  const shown = names.slice(0, LISTED_CODE_FILES).join(", ");
  const more = names.length > LISTED_CODE_FILES ? ` and ${names.length - LISTED_CODE_FILES} more` : "";
  indicateAt(ctx, archiveMember, "torchscript.code", `TorchScript code in ${names.length} file(s): ${shown}${more}`);
  for (const source of sources) {
    if (source.truncated)
      indicateAt(
        ctx,
        source.member,
        "torchscript.code_truncated",
        `TorchScript source larger than the read bound; only its start was checked`,
      );
    for (const call of dangerousTorchScriptCalls(source.text))
      indicateAt(
        ctx,
        source.member,
        "torchscript.dangerous_call",
        `TorchScript source reaches ${call.what} at line ${call.line}: ${call.text}`,
      );
  }
}

/** Records an indicator against a member path other than the context's own. */
export function indicateAt(ctx: FormatContext, member: string, id: string, message: string, offset?: number): void {
  ctx.inventory.indicators.push({ id, message, member, ...(offset !== undefined ? { offset } : {}) });
}

// ---------------------------------------------------------------------------------------------------------------
// The pre-0.4 tar checkpoint

/** Members of the legacy tar checkpoint; `legacy_load` extracts `storages`, `tensors` and `pickle`. */
export const LEGACY_TAR_MEMBERS = ["sys_info", "pickle", "storages", "tensors"] as const;

/** True when a tar's member names are those torch.load's legacy tar reader needs. */
export function isLegacyTorchTar(names: Iterable<string>): boolean {
  const present = new Set(names);
  return present.has("storages") && present.has("tensors") && present.has("pickle");
}

/** Bytes per element of the storage classes torch 0.1–0.3 wrote (`torch.FloatStorage`, `torch.cuda.…`). */
const STORAGE_ELEMENT_SIZES: Readonly<Record<string, number>> = {
  DoubleStorage: 8,
  FloatStorage: 4,
  HalfStorage: 2,
  BFloat16Storage: 2,
  LongStorage: 8,
  IntStorage: 4,
  ShortStorage: 2,
  CharStorage: 1,
  ByteStorage: 1,
  BoolStorage: 1,
  ComplexDoubleStorage: 16,
  ComplexFloatStorage: 8,
  QUInt8Storage: 1,
  QInt8Storage: 1,
  QInt32Storage: 4,
  QUInt4x2Storage: 1,
  QUInt2x4Storage: 1,
};

/** Upper bounds on what a legacy stream may declare, so a hostile count cannot keep the loop going. */
const MAX_LEGACY_RECORDS = 1_000_000;
const MAX_TENSOR_DIMS = 64;

/**
 * Scans the `storages` member of a legacy tar checkpoint as torch's `legacy_load` reads it: a pickle with the
 * storage count; per storage a pickle `(key, location, storage_type)` followed by raw data (an 8-byte
 * little-endian element count, then count × element size bytes, read by `UntypedStorage._new_with_file`); then a
 * pickle of storage views. Every pickle is scanned; the raw data is skipped unread. Bytes that do not fit this
 * reading are scanned as pickles too and reported (fail closed).
 */
export async function scanLegacyStorages(source: ByteSource, ctx: FormatContext, member: string): Promise<void> {
  const child = memberContext(ctx, member);
  const stream = new PickleSequence(source, child);
  const count = await stream.count();
  for (let i = 0; count !== undefined && i < count; i++) {
    const record = await stream.next();
    if (!record) return;
    const elementSize = storageElementSize(record);
    if (elementSize === undefined) return stream.giveUp(`storage record ${i} does not name a known storage class`);
    const numel = await readU64(source, stream.offset);
    if (numel === undefined || !stream.skip(8 + numel * elementSize))
      return stream.giveUp(`storage ${i} declares more data than the member holds`);
  }
  if (count === undefined) return;
  if (!(await stream.next())) return; // storage views
  await stream.finish();
}

/**
 * Scans the `tensors` member: a pickle with the tensor count, then per tensor a pickle `(key, storage_id, type)`
 * followed by raw integers: ndim (4 bytes, then 4 ignored), ndim sizes and ndim strides (8 bytes each) and the
 * storage offset (8 bytes).
 */
export async function scanLegacyTensors(source: ByteSource, ctx: FormatContext, member: string): Promise<void> {
  const child = memberContext(ctx, member);
  const stream = new PickleSequence(source, child);
  const count = await stream.count();
  for (let i = 0; count !== undefined && i < count; i++) {
    if (!(await stream.next())) return;
    const head = await source.read(stream.offset, 4);
    const ndim = head.length === 4 ? new DataView(head.buffer, head.byteOffset, 4).getInt32(0, true) : -1;
    if (ndim < 0 || ndim > MAX_TENSOR_DIMS) return stream.giveUp(`tensor ${i} has an implausible dimension count`);
    if (!stream.skip(8 + 16 * ndim + 8)) return stream.giveUp(`tensor ${i} runs past the end of the member`);
  }
  if (count !== undefined) await stream.finish();
}

/** A child context for one member, so its findings carry the member's path (and count on the file's budgets). */
function memberContext(ctx: FormatContext, member: string): FormatContext {
  return ctx.child(member);
}

/** Pickles back to back with raw data between them, read one at a time from a member. */
class PickleSequence {
  offset = 0;

  constructor(
    private readonly source: ByteSource,
    private readonly ctx: FormatContext,
  ) {}

  /** The leading count pickle; undefined (and reported) when it is not a plausible count. */
  async count(): Promise<number | undefined> {
    const scan = await this.next();
    const value = scan?.results[0];
    if (value?.k === "int" && value.v >= 0n && value.v <= BigInt(MAX_LEGACY_RECORDS)) return Number(value.v);
    if (scan) await this.giveUp("the leading count is not a small integer");
    return undefined;
  }

  /** Runs the next pickle and records it; undefined when the stream breaks (the machine reports why). */
  async next(): Promise<PickleScan | undefined> {
    if (this.offset >= this.source.size) {
      indicateAt(this.ctx, this.ctx.member, "pytorch.legacy_unparsed", "stream ends before its declared records");
      return undefined;
    }
    const scan = await runPickles(this.source, this.ctx, this.offset, { stopAfter: 1 });
    await recordPickleScan(scan, this.source, this.ctx);
    this.offset = scan.end;
    return scan.clean && scan.pickles === 1 ? scan : undefined;
  }

  /** Moves past raw data; false when it would run past the end. */
  skip(n: number): boolean {
    if (!Number.isSafeInteger(n) || this.offset + n > this.source.size) return false;
    this.offset += n;
    return true;
  }

  /** The reading no longer fits: report it and scan the rest as pickles back to back. */
  async giveUp(why: string): Promise<void> {
    indicateAt(
      this.ctx,
      this.ctx.member,
      "pytorch.legacy_unparsed",
      `${why}; the rest was scanned as pickles`,
      this.offset,
    );
    await this.scanRest();
  }

  /** After the last record: anything left over is reported and scanned. */
  async finish(): Promise<void> {
    if (this.offset >= this.source.size) return;
    indicateAt(
      this.ctx,
      this.ctx.member,
      "pytorch.legacy_unparsed",
      `${this.source.size - this.offset} bytes after the last record`,
      this.offset,
    );
    await this.scanRest();
  }

  private async scanRest(): Promise<void> {
    if (this.offset >= this.source.size) return;
    const scan = await runPickles(this.source, this.ctx, this.offset, { continuation: true });
    await recordPickleScan(scan, this.source, this.ctx);
    this.offset = this.source.size;
  }
}

/** The element size of the storage class named by a `(key, location, storage_type)` record. */
function storageElementSize(scan: PickleScan): number | undefined {
  const record: Value | undefined = scan.results[0];
  if (record?.k !== "tuple" || record.items.length !== 3) return undefined;
  const type = record.items[2];
  if (type?.k !== "global" || (type.module !== "torch" && type.module !== "torch.cuda")) return undefined;
  return STORAGE_ELEMENT_SIZES[type.name];
}

async function readU64(source: ByteSource, offset: number): Promise<number | undefined> {
  const bytes = await source.read(offset, 8);
  if (bytes.length < 8) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, 8);
  const value = view.getBigUint64(0, true);
  return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : undefined;
}
