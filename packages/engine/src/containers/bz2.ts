import { createRequire } from "node:module";

/**
 * bz2 through unbzip2-stream's block decoder, driven here rather than through its stream wrapper: the wrapper
 * collects a block's output in a JavaScript array of numbers (a 45 MB block of zeros costs ~1 GB), while this
 * driver writes each byte into fixed 256 KiB buffers and lets the caller's guard stop the block mid-way.
 * Memory is then one block's output at most (bz2 caps it near 46 MB), whatever the file claims.
 */

const require = createRequire(import.meta.url);

interface BitReader {
  (n: number | null): number;
  bytesRead: number;
}
interface Bzip2Lib {
  header(bits: BitReader): number;
  decompress(
    bits: BitReader,
    out: (byte: number) => void,
    buf: Int32Array,
    size: number,
    crc: number | null,
  ): number | null;
}
const bzip2 = require("unbzip2-stream/lib/bzip2") as Bzip2Lib;
const bitIterator = require("unbzip2-stream/lib/bit_iterator") as (next: () => Uint8Array | undefined) => BitReader;

/** Output buffers handed on while a block decodes. */
const SINK_BYTES = 256 * 1024;
/** Input a block may need beyond its declared size (the library's own margin). */
const BLOCK_INPUT_MARGIN = 25_000;

/** Collects decoded bytes in fixed buffers; `check` sees every full buffer before it is kept. */
class ByteSink {
  private buf = new Uint8Array(SINK_BYTES);
  private at = 0;
  private full: Uint8Array[] = [];
  private fullBytes = 0;

  constructor(private readonly check: (pendingBytes: number) => void) {}

  readonly put = (byte: number): void => {
    this.buf[this.at++] = byte;
    if (this.at === SINK_BYTES) {
      this.check(this.fullBytes + SINK_BYTES);
      this.full.push(this.buf);
      this.fullBytes += SINK_BYTES;
      this.buf = new Uint8Array(SINK_BYTES);
      this.at = 0;
    }
  };

  take(): Uint8Array[] {
    if (this.at > 0) {
      this.check(this.fullBytes + this.at);
      this.full.push(this.buf.slice(0, this.at));
      this.at = 0;
    }
    const out = this.full;
    this.full = [];
    this.fullBytes = 0;
    return out;
  }
}

/**
 * Decodes concatenated bz2 streams from `chunks`. `check(pending)` is called with the bytes decoded but not yet
 * handed out; it throws to stop decoding (a ratio or size budget), also in the middle of a block.
 */
export async function* decodeBzip2(
  chunks: AsyncIterable<Uint8Array>,
  check: (pendingBytes: number) => void,
): AsyncGenerator<Uint8Array> {
  const queue: Uint8Array[] = [];
  let received = 0;
  let ended = false;
  let bitReader: BitReader | undefined;
  // The library reads its first buffer when created, and asks for the next one whenever it runs out.
  const bits = (): BitReader =>
    (bitReader ??= bitIterator(() => {
      const next = queue.shift();
      if (next === undefined) throw new Error("bz2 data ends early");
      return next;
    }));
  const sink = new ByteSink(check);
  let blockSize = 0;
  let crc: number | null = null;
  const iterator = chunks[Symbol.asyncIterator]();
  const buffered = (): number => received - (bitReader?.bytesRead ?? 0);
  for (;;) {
    const need = blockSize === 0 ? 4 : BLOCK_INPUT_MARGIN + 100_000 * blockSize;
    while (!ended && buffered() + 1 < need) {
      const step = await iterator.next();
      if (step.done) ended = true;
      else {
        queue.push(step.value);
        received += step.value.length;
      }
    }
    if (ended && buffered() <= 0) break;
    if (blockSize === 0) {
      blockSize = bzip2.header(bits());
      crc = 0;
      continue;
    }
    const workspace = new Int32Array(100_000 * blockSize);
    crc = bzip2.decompress(bits(), sink.put, workspace, workspace.length, crc);
    if (crc === null) blockSize = 0; // end of a stream; another may follow
    yield* sink.take();
  }
  if (blockSize !== 0) throw new Error("bz2 input stream ended prematurely");
}
