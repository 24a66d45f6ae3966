import { Readable, pipeline, type Transform } from "node:stream";
import type { ContainerContext } from "./types.js";
import type { ByteSource } from "../source/byte-source.js";

/**
 * The pieces every stream decoder shares (the whole-file wrappers, gzip members, 7z folders): bounded input
 * chunks, the guard that stops a bomb inside the decoder, and the errors that say why a stream stopped.
 */

/** Output below this size is never called a bomb: small, highly repetitive files are normal. */
const RATIO_GRACE_BYTES = 4 * 1024 * 1024;
/** Compressed bytes handed to a decoder at a time. Small enough that the input count tracks the output closely. */
const INPUT_CHUNK = 64 * 1024;
/** A budget ran out (ratio, time): reported as scan.limit, not as corruption. */
export class LimitExceeded extends Error {}

/** Bytes after the end of a whole-file stream: no decoder of the stream reads them, another reader may. */
export class TrailingData extends Error {}

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
    const cap = this.ctx.limits.maxMemberDecompressedBytes;
    if (total > cap)
      throw new LimitExceeded(
        `${this.what} decompresses to more than the per-member limit maxMemberDecompressedBytes (${cap} bytes)`,
      );
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
