import type { ByteSource } from "./byte-source.js";

/** Where a forward reader gets its bytes: a window of a random-access source, or a stream of chunks. */
export interface ChunkProvider {
  /** The next bytes (at most `max`), or an empty array at the end. */
  next(max: number): Promise<Uint8Array>;
  /** Moves forward `n` bytes without returning them; returns how many could be skipped. */
  skip(n: number): Promise<number>;
  /** True when skipped bytes are never fetched (a random-access source). */
  readonly seekable: boolean;
  /** Bytes left, when known: a reader of a small window needs no full-size buffer. */
  readonly remaining?: number;
}

/** Reads [from, to) of a ByteSource; skipping moves the cursor without reading. */
export class SourceWindow implements ChunkProvider {
  readonly seekable = true;
  private pos: number;

  constructor(
    private readonly source: ByteSource,
    from = 0,
    private readonly to = source.size,
  ) {
    this.pos = from;
  }

  get remaining(): number {
    return Math.max(0, this.to - this.pos);
  }

  async next(max: number): Promise<Uint8Array> {
    const n = Math.min(max, this.to - this.pos);
    if (n <= 0) return new Uint8Array(0);
    const bytes = await this.source.read(this.pos, n);
    this.pos += bytes.length;
    return bytes;
  }

  skip(n: number): Promise<number> {
    const skipped = Math.max(0, Math.min(n, this.to - this.pos));
    this.pos += skipped;
    return Promise.resolve(skipped);
  }
}

/** A sequential stream of chunks (decompressor output). Skipping has to consume the bytes. */
export class StreamChunks implements ChunkProvider {
  readonly seekable = false;
  private pending: Uint8Array = new Uint8Array(0);
  private readonly iterator: AsyncIterator<Uint8Array>;
  private done = false;

  constructor(chunks: AsyncIterable<Uint8Array>) {
    this.iterator = chunks[Symbol.asyncIterator]();
  }

  /** True once the stream has ended and every byte was handed out. */
  get ended(): boolean {
    return this.done && this.pending.length === 0;
  }

  /** Stops the underlying stream (a decoder) early. */
  async close(): Promise<void> {
    await this.iterator.return?.();
  }

  async next(max: number): Promise<Uint8Array> {
    if (this.pending.length === 0) {
      if (this.done) return this.pending;
      const step = await this.iterator.next();
      if (step.done) {
        this.done = true;
        return new Uint8Array(0);
      }
      this.pending = step.value;
    }
    const out = this.pending.subarray(0, max);
    this.pending = this.pending.subarray(out.length);
    return out;
  }

  async skip(n: number): Promise<number> {
    let skipped = 0;
    while (skipped < n) {
      const chunk = await this.next(Math.min(n - skipped, 1 << 20));
      if (chunk.length === 0) break;
      skipped += chunk.length;
    }
    return skipped;
  }
}

const MIN_BUFFER = 64 * 1024;
/** Read-ahead after a jump: small, since the next payload skip may come soon; doubles while reading on. */
const FIRST_READ_AHEAD = 4096;
/** Bytes buffered at a time while skipping to a delimiter. */
const SKIP_CHUNK = 64 * 1024;

/**
 * A forward cursor with one reusable buffer. Hot paths check `available` and call the synchronous accessors;
 * only when the buffer runs low do they await `fill`. Memory is bounded by the largest `fill` request.
 */
export class ByteReader {
  private buf: Uint8Array;
  private start = 0;
  private end = 0;
  /** Absolute offset of buf[0]. */
  private base: number;
  private exhausted = false;
  private readAhead = FIRST_READ_AHEAD;

  constructor(
    private readonly provider: ChunkProvider,
    startOffset = 0,
  ) {
    this.base = startOffset;
    // Sized to the input when it is small: scanning thousands of small files would otherwise allocate (and zero)
    // a full buffer for each reader. `fill` grows it when a longer read asks.
    this.buf = new Uint8Array(Math.min(MIN_BUFFER, Math.max(64, provider.remaining ?? MIN_BUFFER)));
  }

  /** Absolute offset of the next unread byte. */
  get offset(): number {
    return this.base + this.start;
  }

  get available(): number {
    return this.end - this.start;
  }

  get seekable(): boolean {
    return this.provider.seekable;
  }

  /** True once the input has no bytes left beyond those buffered: `fill` cannot add any, so it need not be awaited. */
  get inputEnded(): boolean {
    return this.exhausted;
  }

  /** Ensures at least `n` bytes are buffered, unless the input ends first. Returns the bytes available. */
  async fill(n: number): Promise<number> {
    if (this.end - this.start >= n) return this.end - this.start;
    if (this.start > 0) {
      this.buf.copyWithin(0, this.start, this.end);
      this.base += this.start;
      this.end -= this.start;
      this.start = 0;
    }
    if (this.buf.length < n) {
      const bigger = new Uint8Array(Math.max(n, this.buf.length * 2));
      bigger.set(this.buf.subarray(0, this.end));
      this.buf = bigger;
    }
    while (this.end < n && !this.exhausted) {
      const want = Math.max(n - this.end, Math.min(this.readAhead, this.buf.length - this.end));
      this.readAhead = Math.min(this.readAhead * 2, MIN_BUFFER);
      const chunk = await this.provider.next(want);
      if (chunk.length === 0) {
        this.exhausted = true;
        break;
      }
      this.buf.set(chunk, this.end);
      this.end += chunk.length;
      // A window that knows its size ends here without one more (empty) read.
      if (this.provider.remaining === 0) this.exhausted = true;
    }
    return this.end - this.start;
  }

  /** True when nothing is buffered and the input has ended. */
  async atEnd(): Promise<boolean> {
    return (await this.fill(1)) === 0;
  }

  u8(): number {
    return this.buf[this.start++]!;
  }

  peek(i = 0): number {
    return this.buf[this.start + i]!;
  }

  u16(): number {
    const b = this.buf;
    const s = this.start;
    this.start += 2;
    return b[s]! | (b[s + 1]! << 8);
  }

  u32(): number {
    const b = this.buf;
    const s = this.start;
    this.start += 4;
    return (b[s]! | (b[s + 1]! << 8) | (b[s + 2]! << 16)) + b[s + 3]! * 0x1000000;
  }

  i32(): number {
    const b = this.buf;
    const s = this.start;
    this.start += 4;
    return b[s]! | (b[s + 1]! << 8) | (b[s + 2]! << 16) | (b[s + 3]! << 24);
  }

  /** Little-endian unsigned 64-bit value; exact below 2^53, otherwise rounded (callers treat it as "huge"). */
  u64(): number {
    const low = this.u32();
    const high = this.u32();
    return high * 0x100000000 + low;
  }

  f64be(): number {
    const view = new DataView(this.buf.buffer, this.buf.byteOffset + this.start, 8);
    this.start += 8;
    return view.getFloat64(0, false);
  }

  /** Moves the cursor back to an absolute offset that is still buffered (to re-run an opcode). */
  rewind(offset: number): void {
    const start = offset - this.base;
    if (start < 0 || start > this.end) throw new RangeError(`cannot rewind to ${offset}: no longer buffered`);
    this.start = start;
  }

  /** A view of the next `n` buffered bytes (valid until the next fill). */
  take(n: number): Uint8Array {
    const out = this.buf.subarray(this.start, this.start + n);
    this.start += n;
    return out;
  }

  /** Index of `byte` in the buffered bytes, relative to the cursor, or -1. */
  indexOf(byte: number, from = 0): number {
    const at = this.buf.subarray(0, this.end).indexOf(byte, this.start + from);
    return at < 0 ? -1 : at - this.start;
  }

  /**
   * Reads a line ending in '\n' of at most `max` bytes (newline excluded from the result). Returns null when no
   * newline arrives within `max` bytes or before the end; the cursor is then left where it was.
   */
  async line(max: number): Promise<Uint8Array | null> {
    let searched = 0;
    for (;;) {
      const at = this.indexOf(0x0a, searched);
      if (at >= 0) {
        if (at > max) return null;
        const out = this.buf.slice(this.start, this.start + at);
        this.start += at + 1;
        return out;
      }
      searched = this.available;
      if (searched > max) return null;
      const before = this.available;
      const now = await this.fill(Math.min(before + 4096, max + 1));
      if (now === before) return null;
    }
  }

  /**
   * Skips past the next `byte` (included), reading forward without keeping what it passes: "end" when the input
   * ends first, "limit" when more than `max` bytes come before it. Memory stays at one buffer whatever the distance.
   */
  async skipThrough(byte: number, max: number): Promise<number | "end" | "limit"> {
    let skipped = 0;
    for (;;) {
      const at = this.indexOf(byte);
      if (at >= 0) {
        if (skipped + at > max) return "limit";
        this.start += at + 1;
        return skipped + at + 1;
      }
      skipped += this.available;
      this.start = this.end;
      if (skipped > max) return "limit";
      if ((await this.fill(SKIP_CHUNK)) === 0) return "end";
    }
  }

  /** Skips `n` bytes; returns how many were skipped (fewer at the end of input). */
  async skip(n: number): Promise<number> {
    const buffered = Math.min(n, this.available);
    this.start += buffered;
    if (buffered === n) return n;
    // Nothing buffered remains; move the window past the rest without reading it (when seekable).
    this.base += this.end;
    this.start = 0;
    this.end = 0;
    const skipped = await this.provider.skip(n - buffered);
    this.base += skipped;
    this.readAhead = FIRST_READ_AHEAD;
    return buffered + skipped;
  }
}
