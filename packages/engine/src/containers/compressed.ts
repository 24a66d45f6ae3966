import { basename } from "node:path";
import type { Transform } from "node:stream";
import { createInflate } from "node:zlib";
import type { ContainerContext, ContainerHandler } from "./types.js";
import type { ByteSource } from "../source/byte-source.js";
import { bytesAt } from "../source/bytes.js";
import type { Probe } from "../source/probe.js";
import { decodeLz4Frames, isLz4Frame } from "./lz4.js";
import { decodeLzmaAlone, decodeXz } from "./xz.js";
import { decodeBzip2 } from "./bz2.js";
import { decodeGzipMembers } from "./gzip.js";
import { LzmaLimit } from "./lzma.js";
import { CompressedInput, DecompressionGuard, LimitExceeded, TrailingData, viaTransform } from "./decode-stream.js";

/**
 * Whole-file compression wrappers: gzip, zlib, bz2, xz, lzma ("alone") and LZ4 frames. joblib.load recognises all
 * six by their first bytes and unpickles what comes out, so a wrapper is opened and its content judged by its own
 * bytes (a joblib pickle, a tar, another wrapper). Decoding streams: memory stays bounded by the decoder's window
 * and the context's 64 MiB inspection buffer, whatever the file's size.
 */

/**
 * bz2 decodes a whole block inside write(); a block of zeros is ~40 bytes of input for ~45 MB of output, so its
 * input goes in small pieces to keep the ratio check between blocks meaningful.
 */
const BZ2_INPUT_CHUNK = 4 * 1024;
/** Decoder output chunk: large enough that per-chunk overhead vanishes, small next to the 64 MiB inspection buffer. */
const OUTPUT_CHUNK = 256 * 1024;

/** One wrapper format: how to recognise it and how to decode it. */
interface Codec {
  readonly name: string;
  /** A magic long enough that failing to decode is worth a warning (gzip, bz2, xz, lz4), not a sign of other data. */
  readonly strongMagic: boolean;
  /** File-name endings the decompressed member loses (`model.joblib.gz` → `model.joblib`). */
  readonly suffixes: readonly string[];
  sniff(head: Uint8Array): boolean;
  decode(source: ByteSource, guard: DecompressionGuard, input: CompressedInput): AsyncIterable<Uint8Array>;
  readonly inputChunk?: number;
}

/**
 * A zlib stream decoded, then checked to have used the whole file: node:zlib stops at the stream's end and drops
 * what follows silently (so does joblib, which stops reading at the pickle's STOP), but a file that carries
 * other bytes after it — a ZIP archive whose end record torch.load would find — must not pass as a clean stream.
 */
async function* checkedEnd(
  source: ByteSource,
  input: CompressedInput,
  transform: Transform & { readonly bytesWritten: number },
): AsyncGenerator<Uint8Array> {
  yield* viaTransform(input.chunks(), transform);
  // bytesWritten counts the input the engine consumed, up to the stream's end.
  const trailing = source.size - transform.bytesWritten;
  if (trailing > 0)
    throw new TrailingData(
      `${trailing} bytes follow the end of the stream at offset ${transform.bytesWritten}; no decoder reads them`,
    );
}

/** bz2 with the guard checked inside every block, so a bomb stops within one output buffer of the budget. */
export function decodeBz2(input: CompressedInput, guard: DecompressionGuard): AsyncGenerator<Uint8Array> {
  return decodeBzip2(input.chunks(), (pending) => guard.check(pending));
}

function isZlibHeader(head: Uint8Array): boolean {
  const cmf = head[0];
  const flg = head[1];
  if (cmf !== 0x78 || flg === undefined) return false; // deflate with a 32 KiB window: what zlib.compress writes
  // FCHECK makes the 16-bit header a multiple of 31; FDICT (a preset dictionary) is never used by joblib.
  return ((cmf << 8) | flg) % 31 === 0 && (flg & 0x20) === 0;
}

/**
 * The legacy .lzma header as liblzma's auto decoder accepts it (what Python's lzma and so joblib read): properties
 * 0x5d (lc=3 lp=0 pb=2, what every encoder writes), a dictionary size of 2^n or 2^n+2^(n-1), and an uncompressed
 * size that is unknown (all ones) or below 256 GiB.
 */
function isLzmaAlone(head: Uint8Array): boolean {
  if (head.length < 13 || head[0] !== 0x5d) return false;
  const view = new DataView(head.buffer, head.byteOffset, 13);
  const dict = view.getUint32(1, true);
  if (dict !== 0xffffffff && !isLzmaDictSize(dict)) return false;
  const low = view.getUint32(5, true);
  const high = view.getUint32(9, true);
  return (low === 0xffffffff && high === 0xffffffff) || high < 0x40;
}

function isLzmaDictSize(dict: number): boolean {
  for (let n = 12; n <= 31; n++) {
    const power = 2 ** n;
    if (dict === power || dict === power + power / 2) return true;
  }
  return false;
}

const startsWith =
  (...magic: number[]) =>
  (head: Uint8Array): boolean =>
    bytesAt(head, 0, magic);

const CODECS: readonly Codec[] = [
  {
    name: "gzip",
    strongMagic: true,
    suffixes: [".gz", ".gzip"],
    sniff: startsWith(0x1f, 0x8b, 0x08),
    decode: (source, _g, input) => decodeGzipMembers(source, input),
  },
  {
    name: "zlib",
    strongMagic: false,
    suffixes: [".z", ".zlib"],
    sniff: isZlibHeader,
    decode: (source, _g, input) => checkedEnd(source, input, createInflate({ chunkSize: OUTPUT_CHUNK })),
  },
  {
    name: "bz2",
    strongMagic: true,
    suffixes: [".bz2", ".bz"],
    // "BZh", the block size digit, then the first block's magic (pi) or the end-of-stream magic (sqrt pi).
    sniff: (head) =>
      startsWith(0x42, 0x5a, 0x68)(head) &&
      head[3]! >= 0x31 &&
      head[3]! <= 0x39 &&
      (bytesAt(head, 4, [0x31, 0x41, 0x59, 0x26, 0x53, 0x59]) ||
        bytesAt(head, 4, [0x17, 0x72, 0x45, 0x38, 0x50, 0x90])),
    decode: (_s, guard, input) => decodeBz2(input, guard),
    inputChunk: BZ2_INPUT_CHUNK,
  },
  {
    name: "xz",
    strongMagic: true,
    suffixes: [".xz"],
    sniff: startsWith(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00),
    decode: (_s, _g, input) => decodeXz(input.chunks()),
  },
  {
    name: "lzma",
    strongMagic: false,
    suffixes: [".lzma"],
    sniff: isLzmaAlone,
    decode: (_s, _g, input) => decodeLzmaAlone(input.chunks()),
  },
  {
    name: "lz4",
    strongMagic: true,
    suffixes: [".lz4"],
    sniff: isLz4Frame,
    decode: (source, _g, input) => decodeLz4Frames(source, input),
  },
];

function handlerFor(codec: Codec): ContainerHandler {
  return {
    name: codec.name,
    exclusive: true,
    sniff: (probe: Probe) => codec.sniff(probe.head),
    inspect: (source: ByteSource, ctx: ContainerContext) => inspectWrapped(codec, source, ctx),
  };
}

/** One handler per wrapper, in registry order (gzip, zlib, bz2, xz, lzma, lz4). */
export const COMPRESSION_FORMATS: readonly ContainerHandler[] = CODECS.map(handlerFor);

/**
 * Decodes the source and inspects the output by content. A weak magic (zlib's two bytes, lzma's header) that
 * does not decode at all means the file is something else: nothing is recorded and false is returned.
 */
async function inspectWrapped(codec: Codec, source: ByteSource, ctx: ContainerContext): Promise<boolean> {
  const input = new CompressedInput(source, codec.inputChunk);
  const what = `${codec.name} data of ${source.name}`;
  const guard = new DecompressionGuard(ctx, input, what);
  const decoded = codec.decode(source, guard, input)[Symbol.asyncIterator]();
  let first: IteratorResult<Uint8Array>;
  try {
    first = await decoded.next();
  } catch (e) {
    if (!codec.strongMagic && !isLimit(e) && !failedItsCheck(e)) return false;
    reportFailure(ctx, codec.name, e, 0);
    return true;
  }
  const member = decompressedMember(ctx.member, source.name, codec);
  await ctx.inspectStream(guarded(ctx, codec.name, first, decoded, guard), member);
  return true;
}

/**
 * The decoder's output with the guard applied. A budget overrun or a decoding error ends the stream normally
 * (after an indicator), so everything decoded before it is still inspected.
 */
export function guarded(
  ctx: ContainerContext,
  format: string,
  first: IteratorResult<Uint8Array>,
  rest: AsyncIterator<Uint8Array>,
  guard: DecompressionGuard,
): AsyncGenerator<Uint8Array> {
  return guardedWithHandler(first, rest, guard, (e) => reportFailure(ctx, format, e, guard.produced));
}

/** The decoder's output with the guard's accounting; a decoder error goes to `onError` and ends the stream. */
export async function* guardedWithHandler(
  first: IteratorResult<Uint8Array>,
  rest: AsyncIterator<Uint8Array>,
  guard: DecompressionGuard,
  onError: (e: unknown) => void,
): AsyncGenerator<Uint8Array> {
  try {
    for (let step = first; !step.done; step = await rest.next()) {
      if (step.value.length === 0) continue;
      guard.account(step.value.length);
      yield step.value;
    }
  } catch (e) {
    onError(e);
  } finally {
    await rest.return?.();
  }
}

/**
 * A stream that decoded to its end and then failed its checksum (zlib's Adler-32, an xz/lzma check) is that
 * format, however weak its magic: the failure is corruption to report, not a sign of other data.
 */
function failedItsCheck(e: unknown): boolean {
  const message = e instanceof Error ? e.message : "";
  return /incorrect data check|check \(.*\) mismatch|did not end cleanly/.test(message);
}

const isLimit = (e: unknown): boolean => e instanceof LimitExceeded || e instanceof LzmaLimit;

export function reportFailure(ctx: ContainerContext, format: string, e: unknown, produced: number): void {
  const reason = e instanceof Error ? e.message : String(e);
  if (isLimit(e)) ctx.indicate("scan.limit", reason);
  else if (e instanceof TrailingData) ctx.indicate("compression.trailing_data", `${format} stream: ${reason}`);
  else
    ctx.indicate(
      "compression.corrupt",
      `${format} stream is corrupt or truncated after ${produced} decompressed bytes: ${reason}`,
    );
}

/** The name of the decompressed content: the file name without the wrapper's suffix, under the parent member. */
function decompressedMember(parent: string, sourceName: string, codec: Codec): string {
  const base = basename(parent || sourceName);
  const lower = base.toLowerCase();
  const suffix = codec.suffixes.find((s) => lower.endsWith(s) && lower.length > s.length);
  const inner = suffix ? base.slice(0, base.length - suffix.length) : `${base}[${codec.name}]`;
  return parent ? `${parent}!${inner}` : inner;
}
