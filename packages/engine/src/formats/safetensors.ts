import type { ByteSource } from "../source/byte-source.js";
import type { FormatContext, FormatHandler, Probe } from "./types.js";

/**
 * safetensors: `u64 LE n`, an `n`-byte UTF-8 JSON header, then raw tensor bytes. The format cannot carry code, so
 * a well-formed file is Pass after reading 8 bytes and the header, whatever its size. What can go wrong is
 * structural: a header length that makes a reader allocate gigabytes, offsets that overlap or leave gaps (bytes no
 * tensor accounts for can smuggle a payload), dtype/shape/offset disagreements. Each is a Warning, with the checks
 * of the reference implementation (safetensors `SafeTensors::validate`).
 */

/** The reference implementation refuses headers above 100 MB (`MAX_HEADER_SIZE`). */
export const MAX_HEADER_BYTES = 100_000_000;
/** Per-kind anomalies reported; the rest are counted in the last message. */
const MAX_REPORTS_PER_KIND = 5;
/** Tensors validated per header (a 100 MB header holds at most ~1M entries). */
const MAX_TENSORS = 2_000_000;

/** Element sizes in bits (the sub-byte float formats of newer releases pack several elements per byte). */
const DTYPE_BITS: Record<string, number> = {
  BOOL: 8,
  U8: 8,
  I8: 8,
  F8_E4M3: 8,
  F8_E5M2: 8,
  F8_E8M0: 8,
  F4: 4,
  F6_E2M3: 6,
  F6_E3M2: 6,
  U16: 16,
  I16: 16,
  F16: 16,
  BF16: 16,
  U32: 32,
  I32: 32,
  F32: 32,
  U64: 64,
  I64: 64,
  F64: 64,
  C64: 64,
};

export const safetensorsFormat: FormatHandler = {
  name: "safetensors",
  exclusive: true,
  sniff: (probe: Probe) => sniffSafetensors(probe.head),
  async inspect(source: ByteSource, ctx: FormatContext): Promise<boolean> {
    const header = await readHeader(source);
    if ("problem" in header) {
      ctx.indicate(header.problem, header.message);
      return true;
    }
    validateHeader(header.json, source.size - 8 - header.length, new Reporter(ctx));
    return true;
  },
};

/**
 * A u64 length then `{`. Text that happens to have `{` at byte 8 has printable length bytes; a real header length
 * (< 100 MB) has zero high bytes, and even the hostile corpus lengths (0xFFFF…) are not all printable.
 */
export function sniffSafetensors(head: Uint8Array): boolean {
  if (head.length < 10 || head[8] !== 0x7b) return false;
  const printable = head.subarray(0, 8).every((b) => b >= 0x20 && b < 0x7f);
  return !printable && readU64(head) >= 2n;
}

function readU64(bytes: Uint8Array): bigint {
  return new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
}

type HeaderResult = { json: Record<string, unknown>; length: number } | { problem: string; message: string };

/** Reads and parses the header, or names the first reason the reference implementation would refuse it. */
async function readHeader(source: ByteSource): Promise<HeaderResult> {
  const prefix = await source.read(0, 8);
  if (prefix.length < 8) return { problem: "safetensors.header_out_of_bounds", message: "file shorter than 8 bytes" };
  const n = readU64(prefix);
  if (n > BigInt(MAX_HEADER_BYTES))
    return {
      problem: "safetensors.header_too_large",
      message: `header length ${n} is over the ${MAX_HEADER_BYTES}-byte limit of the reference implementation`,
    };
  const length = Number(n);
  if (length > source.size - 8)
    return {
      problem: "safetensors.header_out_of_bounds",
      message: `header length ${length} runs past the end of the file (${source.size - 8} bytes after the length)`,
    };
  const bytes = await source.read(8, length);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return { problem: "safetensors.invalid_header_json", message: "header is not valid UTF-8" };
  }
  if (!text.startsWith("{"))
    return { problem: "safetensors.invalid_header_json", message: "header does not start with '{'" };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return { problem: "safetensors.invalid_header_json", message: `header is not JSON: ${(e as Error).message}` };
  }
  if (typeof json !== "object" || json === null || Array.isArray(json))
    return { problem: "safetensors.invalid_header_json", message: "header is not a JSON object" };
  return { json: json as Record<string, unknown>, length };
}

/** Counts anomalies per indicator id so a header with a million bad entries yields a handful of messages. */
class Reporter {
  private readonly counts = new Map<string, number>();

  constructor(private readonly ctx: FormatContext) {}

  report(id: string, message: string): void {
    const count = (this.counts.get(id) ?? 0) + 1;
    this.counts.set(id, count);
    if (count <= MAX_REPORTS_PER_KIND) this.ctx.indicate(id, message);
  }

  finish(): void {
    for (const [id, count] of this.counts)
      if (count > MAX_REPORTS_PER_KIND)
        this.ctx.indicate(id, `${count - MAX_REPORTS_PER_KIND} more ${id.split(".")[1]} anomalies not listed`);
  }
}

interface TensorSpan {
  name: string;
  begin: bigint;
  end: bigint;
}

/** Validates every entry and then the layout of the data section (`dataSize` bytes after the header). */
function validateHeader(json: Record<string, unknown>, dataSize: number, reporter: Reporter): void {
  const spans: TensorSpan[] = [];
  let entries = 0;
  for (const [name, entry] of Object.entries(json)) {
    if (++entries > MAX_TENSORS) {
      reporter.report("safetensors.invalid_tensor", `more than ${MAX_TENSORS} entries; the rest were not validated`);
      break;
    }
    if (name === "__metadata__") validateMetadata(entry, reporter);
    else {
      const span = validateTensor(name, entry, reporter);
      if (span) spans.push(span);
    }
  }
  validateLayout(spans, BigInt(dataSize), reporter);
  reporter.finish();
}

function validateMetadata(metadata: unknown, reporter: Reporter): void {
  if (metadata === null) return; // the reference implementation serialises an absent map as null
  if (typeof metadata !== "object" || Array.isArray(metadata)) {
    reporter.report("safetensors.invalid_metadata", "__metadata__ is not an object of strings");
    return;
  }
  for (const [key, value] of Object.entries(metadata as Record<string, unknown>))
    if (typeof value !== "string")
      reporter.report(
        "safetensors.invalid_metadata",
        `__metadata__[${quote(key)}] is a ${kindOf(value)}, not a string`,
      );
}

/** Checks one tensor entry; returns its byte span when dtype, shape and offsets agree. */
function validateTensor(name: string, entry: unknown, reporter: Reporter): TensorSpan | undefined {
  const bad = (why: string): undefined => {
    reporter.report("safetensors.invalid_tensor", `tensor ${quote(name)}: ${why}`);
    return undefined;
  };
  if (typeof entry !== "object" || entry === null || Array.isArray(entry)) return bad("entry is not an object");
  const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
  if (typeof dtype !== "string") return bad("dtype missing");
  const bits = DTYPE_BITS[dtype];
  if (bits === undefined) {
    reporter.report("safetensors.unknown_dtype", `tensor ${quote(name)}: unknown dtype ${quote(dtype)}`);
    return undefined;
  }
  if (!Array.isArray(shape) || !shape.every(isSize)) return bad("shape is not a list of non-negative integers");
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isSize))
    return bad("data_offsets is not [begin, end] of non-negative integers");
  const [begin, end] = offsets.map((o) => BigInt(o as number)) as [bigint, bigint];
  if (end < begin) {
    reporter.report(
      "safetensors.offsets_out_of_bounds",
      `tensor ${quote(name)}: data_offsets end ${end} < begin ${begin}`,
    );
    return undefined;
  }
  const elementBits = shape.reduce<bigint>((acc, d) => acc * BigInt(d as number), 1n) * BigInt(bits);
  if (elementBits % 8n !== 0n || elementBits / 8n !== end - begin)
    return bad(
      `${dtype}${JSON.stringify(shape)} needs ${Number(elementBits) / 8} bytes but data_offsets span ${end - begin}`,
    );
  return { name, begin, end };
}

/** Offsets are JSON numbers; beyond 2^53 they are not exact, which the reference's u64 parse would also refuse. */
function isSize(value: unknown): boolean {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

/** Spans must tile [0, dataSize) exactly, in order: no gap, no overlap, nothing outside, nothing left over. */
function validateLayout(spans: TensorSpan[], dataSize: bigint, reporter: Reporter): void {
  spans.sort((a, b) => (a.begin < b.begin ? -1 : a.begin > b.begin ? 1 : 0));
  let expected = 0n;
  for (const span of spans) {
    if (span.end > dataSize)
      reporter.report(
        "safetensors.offsets_out_of_bounds",
        `tensor ${quote(span.name)}: data_offsets [${span.begin}, ${span.end}] run past the ${dataSize}-byte data section`,
      );
    if (span.begin < expected)
      reporter.report(
        "safetensors.offsets_overlap",
        `tensor ${quote(span.name)} starts at ${span.begin}, inside the previous tensor (ends at ${expected})`,
      );
    else if (span.begin > expected)
      reporter.report(
        "safetensors.offsets_gap",
        `${span.begin - expected} bytes before tensor ${quote(span.name)} belong to no tensor`,
      );
    if (span.end > expected) expected = span.end;
  }
  if (expected < dataSize)
    reporter.report(
      "safetensors.trailing_data",
      `${dataSize - expected} bytes after the last tensor belong to no tensor`,
    );
}

function quote(text: string): string {
  return JSON.stringify(text.length > 120 ? `${text.slice(0, 120)}…` : text);
}

function kindOf(value: unknown): string {
  return value === null ? "null" : Array.isArray(value) ? "list" : typeof value;
}
