import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";

/**
 * Random-access bytes: a local file, a buffer, a slice of a parent, or (later) an HTTP object read with Range
 * requests. Everything the engine reads goes through one of these, so `bytesRead` is the true cost of a scan.
 */
export interface ByteSource {
  /** A name for reports: a path, a member name, a URL. */
  readonly name: string;
  /** Total size in bytes. */
  readonly size: number;
  /** Reads up to `length` bytes at `offset`; returns fewer only at the end of the source. */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Bytes actually fetched from the underlying storage so far. */
  readonly bytesRead: number;
  /** Releases any handle; further reads reopen it. */
  close(): Promise<void>;
}

/** Reads up to this size are made synchronously (see FileSource.read). */
const SYNC_READ_BYTES = 64 * 1024;

/** A local file, opened lazily and read with positioned reads (no stream, no read-ahead beyond the request). */
export class FileSource implements ByteSource {
  bytesRead = 0;
  private handle: FileHandle | undefined;

  constructor(
    readonly path: string,
    readonly size: number,
    readonly name: string = path,
  ) {}

  static async open(path: string, name?: string): Promise<FileSource> {
    const handle = await open(path, "r");
    const stat = await handle.stat();
    const source = new FileSource(path, stat.size, name ?? path);
    source.handle = handle;
    return source;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    const wanted = clampLength(offset, length, this.size);
    if (wanted === 0) return new Uint8Array(0);
    this.handle ??= await open(this.path, "r");
    const out = Buffer.allocUnsafe(wanted);
    let done = 0;
    // A small positioned read costs microseconds in the calling thread, while the promise-based call waits for a
    // thread-pool round trip: a checkpoint's hundreds of local headers are read this way. Large reads stay async.
    if (wanted <= SYNC_READ_BYTES) {
      while (done < wanted) {
        const n = readSync(this.handle.fd, out, done, wanted - done, offset + done);
        if (n === 0) break; // the file shrank under us: return what exists
        done += n;
      }
    }
    while (done < wanted) {
      const { bytesRead } = await this.handle.read(out, done, wanted - done, offset + done);
      if (bytesRead === 0) break; // the file shrank under us: return what exists
      done += bytesRead;
    }
    this.bytesRead += done;
    return done === wanted ? out : out.subarray(0, done);
  }

  async close(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close();
  }
}

/** Bytes already in memory (tests, small decompressed members). */
export class BufferSource implements ByteSource {
  bytesRead = 0;
  readonly size: number;

  constructor(
    private readonly bytes: Uint8Array,
    readonly name = "buffer",
  ) {
    this.size = bytes.length;
  }

  read(offset: number, length: number): Promise<Uint8Array> {
    const wanted = clampLength(offset, length, this.size);
    this.bytesRead += wanted;
    return Promise.resolve(this.bytes.subarray(offset, offset + wanted));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** A window [start, start+size) of a parent source, e.g. a stored ZIP member. Reads count on the parent. */
export class SliceSource implements ByteSource {
  constructor(
    private readonly parent: ByteSource,
    private readonly start: number,
    readonly size: number,
    readonly name: string,
  ) {}

  get bytesRead(): number {
    return 0; // counted once, on the parent
  }

  read(offset: number, length: number): Promise<Uint8Array> {
    return this.parent.read(this.start + offset, clampLength(offset, length, this.size));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

function clampLength(offset: number, length: number, size: number): number {
  if (!Number.isSafeInteger(offset) || offset < 0 || length <= 0 || offset >= size) return 0;
  return Math.min(length, size - offset);
}

/**
 * Remembers the last few blocks read from a source, so that the probe's head and tail and the format readers that
 * start at the same offsets never fetch a byte twice (on the Hub every fetch is a round trip).
 * A read that starts inside a cached block takes the cached part and fetches only the rest.
 */
export class CachingSource implements ByteSource {
  private readonly blocks: Array<{ start: number; bytes: Uint8Array }> = [];

  /**
   * @param minFetch fetch at least this many bytes per miss (read-ahead for sources where a request costs a round
   *   trip; 0 for local files, where the reader's own buffer already sizes reads).
   */
  constructor(
    private readonly inner: ByteSource,
    private readonly maxBlocks = 8,
    private readonly maxBlockSize = 1024 * 1024,
    private readonly minFetch = 0,
  ) {}

  get name(): string {
    return this.inner.name;
  }

  get size(): number {
    return this.inner.size;
  }

  get bytesRead(): number {
    return this.inner.bytesRead;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    const wanted = clampLength(offset, length, this.size);
    if (wanted === 0) return new Uint8Array(0);
    const block = this.blocks.find((b) => offset >= b.start && offset < b.start + b.bytes.length);
    if (!block) {
      const fetched = await this.fetch(offset, Math.max(wanted, this.minFetch));
      return fetched.subarray(0, wanted);
    }
    const cached = block.bytes.subarray(offset - block.start, offset - block.start + wanted);
    if (cached.length === wanted) return cached;
    const rest = await this.fetch(offset + cached.length, wanted - cached.length);
    const out = new Uint8Array(cached.length + rest.length);
    out.set(cached);
    out.set(rest, cached.length);
    return out;
  }

  private async fetch(offset: number, length: number): Promise<Uint8Array> {
    const bytes = await this.inner.read(offset, length);
    if (bytes.length > 0 && bytes.length <= this.maxBlockSize) {
      this.blocks.unshift({ start: offset, bytes });
      if (this.blocks.length > this.maxBlocks) this.blocks.pop();
    }
    return bytes;
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/** Files up to this size are read whole, in one synchronous call: see readSmallFile. */
export const SMALL_FILE_BYTES = 256 * 1024;

/**
 * The whole content of a regular file of at most SMALL_FILE_BYTES, or undefined for a larger one. For a folder of
 * thousands of small files, one synchronous open/fstat/read/close costs microseconds, while the promise-based
 * calls each wait for a thread-pool round trip; a small file's bytes are needed whole by the hash and the probe.
 */
export function readSmallFile(path: string): Uint8Array | undefined {
  const fd = openSync(path, "r");
  try {
    const size = fstatSync(fd).size;
    if (size > SMALL_FILE_BYTES) return undefined;
    const out = Buffer.allocUnsafe(size);
    let done = 0;
    while (done < size) {
      const n = readSync(fd, out, done, size - done, done);
      if (n === 0) break; // the file shrank under us: scan what exists
      done += n;
    }
    return done === size ? out : out.subarray(0, done);
  } finally {
    closeSync(fd);
  }
}
