import { basename } from "node:path";
import { Readable, pipeline, type Transform } from "node:stream";
import { createGunzip, createInflate } from "node:zlib";
import type { ContainerContext, ContainerHandler } from "./types.js";
import type { ByteSource } from "../source/byte-source.js";
import type { Probe } from "../source/probe.js";
import { decodeLz4Frames, isLz4Frame } from "./lz4.js";
import { decodeLzmaAlone, decodeXz } from "./xz.js";
import { decodeBzip2 } from "./bz2.js";
import { LzmaLimit } from "./lzma.js";

/**
 * Whole-file compression wrappers: gzip, zlib, bz2, xz, lzma ("alone") and LZ4 frames. joblib.load recognises all
 * six by their first bytes and unpickles what comes out, so a wrapper is opened and its content judged by its own
 * bytes (a joblib pickle, a tar, another wrapper). Decoding streams: memory stays bounded by the decoder's window
 * and the context's 64 MiB inspection buffer, whatever the file's size.
 */

/** Output below this size is never called a bomb: small, highly repetitive files are normal. */
const RATIO_GRACE_BYTES = 4 * 1024 * 1024;
/** Compressed bytes handed to a decoder at a time. Small enough that the input count tracks the output closely. */
const INPUT_CHUNK = 64 * 1024;
/**
 * bz2 decodes a whole block inside write(); a block of zeros is ~40 bytes of input for ~45 MB of output, so its
 * input goes in small pieces to keep the ratio check between blocks meaningful.
 */
const BZ2_INPUT_CHUNK = 4 * 1024;
/** Decoder output chunk: large enough that per-chunk overhead vanishes, small next to the 64 MiB inspection buffer. */
const OUTPUT_CHUNK = 256 * 1024;

/** A budget ran out (ratio, time): reported as scan.limit, not as corruption. */
export class LimitExceeded extends Error {}

/** Reads a compressed source forward in bounded chunks, counting what was handed to the decoder. */
export class CompressedInput {
  consumed = 0;

  constructor(
    readonly source: ByteSource,
    private readonly chunkSize = INPUT_CHUNK,
    private readonly start = 0,
    private readonly end = source.size,
  ) {}

  async *chunks(): AsyncGenerator<Uint8Array> {
    for (let at = this.start; at < this.end;) {
      const bytes = await this.source.read(at, Math.min(this.chunkSize, this.end - at));
      if (bytes.length === 0) return;
      at += bytes.length;
      this.consumed += bytes.length;
      yield bytes;
    }
  }
}

/** Watches a decoder's output against the compression-ratio cap and the file's deadline. */
export class DecompressionGuard {
  produced = 0;

  constructor(
    private readonly ctx: ContainerContext,
    private readonly input: { readonly consumed: number },
    private readonly what: string,
  ) {}

  /** Counts `n` more output bytes; throws LimitExceeded when a budget is exceeded. */
  account(n: number): void {
    this.check(n);
    this.produced += n;
  }

  /** Throws LimitExceeded if `pending` more output bytes would exceed a budget (without counting them). */
  check(pending: number): void {
    const total = this.produced + pending;
    const ratio = this.ctx.limits.maxCompressionRatio;
    if (total > RATIO_GRACE_BYTES && total > Math.max(1, this.input.consumed) * ratio)
      throw new LimitExceeded(
        `${this.what} expands more than ${ratio} times (${total} bytes from ${this.input.consumed}): suspected decompression bomb`,
      );
    if (Date.now() > this.ctx.deadline)
      throw new LimitExceeded(
        `time budget of ${this.ctx.limits.fileTimeoutMs} ms exhausted while decompressing ${this.what}`,
      );
  }
}

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

/** Decoded chunks of a Node transform fed from `input`. Errors of either side end the iteration with a throw. */
export async function* viaTransform(
  input: AsyncIterable<Uint8Array>,
  transform: Transform,
): AsyncGenerator<Uint8Array> {
  const feed = Readable.from(input, { objectMode: false });
  // Errors surface through the iteration below; the callback only keeps pipeline from throwing globally.
  pipeline(feed, transform, () => undefined);
  try {
    for await (const chunk of transform) yield chunk as Uint8Array;
  } finally {
    feed.destroy();
    transform.destroy();
  }
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
    head.length >= magic.length && magic.every((b, i) => head[i] === b);

const CODECS: readonly Codec[] = [
  {
    name: "gzip",
    strongMagic: true,
    suffixes: [".gz", ".gzip"],
    sniff: startsWith(0x1f, 0x8b, 0x08),
    decode: (_s, _g, input) => viaTransform(input.chunks(), createGunzip({ chunkSize: OUTPUT_CHUNK })),
  },
  {
    name: "zlib",
    strongMagic: false,
    suffixes: [".z", ".zlib"],
    sniff: isZlibHeader,
    decode: (_s, _g, input) => viaTransform(input.chunks(), createInflate({ chunkSize: OUTPUT_CHUNK })),
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
      (startsWith(0x31, 0x41, 0x59, 0x26, 0x53, 0x59)(head.subarray(4)) ||
        startsWith(0x17, 0x72, 0x45, 0x38, 0x50, 0x90)(head.subarray(4))),
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
