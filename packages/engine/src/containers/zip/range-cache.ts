import type { ByteSource } from "../../source/byte-source.js";
import { ZIP_LIMITS } from "./records.js";

/**
 * Serves small reads from a few earlier larger reads (the probe's head, the end region, batches of local
 * headers), so that a header, the first bytes of a storage and a small member cost one read together. Bounded
 * in bytes kept.
 */
export class RangeCache {
  private readonly windows: Array<{ start: number; bytes: Uint8Array }> = [];
  private kept = 0;
  /** The window that served the last lookup. */
  private lastHit = 0;

  /** @param head the first bytes of the source (the probe's head) */
  constructor(
    private readonly source: ByteSource,
    head: Uint8Array,
  ) {
    // Only the head: it certainly starts at offset 0 (the probe's tail is not guaranteed to end the file).
    this.keep(0, head);
  }

  /** Reads a range and keeps it for later small reads. */
  async prefetch(offset: number, length: number): Promise<Uint8Array> {
    const cached = this.find(offset, length);
    if (cached) return cached;
    // A small file's end region starts inside the head: fetch only what the head lacks.
    const prefix = this.longestPrefix(offset);
    const rest = await this.source.read(offset + prefix.length, length - prefix.length);
    const bytes = prefix.length > 0 ? Buffer.concat([prefix, rest]) : rest;
    this.keep(offset, bytes);
    return bytes;
  }

  private longestPrefix(offset: number): Uint8Array {
    let best: Uint8Array = new Uint8Array(0);
    for (const { start, bytes } of this.windows)
      if (offset >= start && offset < start + bytes.length && start + bytes.length - offset > best.length)
        best = bytes.subarray(offset - start);
    return best;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    if (length <= 0) return new Uint8Array(0);
    return this.find(offset, length) ?? this.source.read(offset, length);
  }

  private find(offset: number, length: number): Uint8Array | undefined {
    const wanted = Math.min(offset + length, this.source.size);
    // Headers and member heads are read in file order, mostly from the window of the previous read or the next
    // one: trying those first keeps a checkpoint's hundreds of lookups from each walking every window.
    if (this.covers(this.lastHit, offset, wanted)) return this.hit(this.lastHit, offset, wanted);
    if (this.covers(this.lastHit + 1, offset, wanted)) return this.hit(this.lastHit + 1, offset, wanted);
    for (let i = 0; i < this.windows.length; i++)
      if (this.covers(i, offset, wanted)) return this.hit(i, offset, wanted);
    return undefined;
  }

  private covers(index: number, offset: number, wanted: number): boolean {
    const window = this.windows[index];
    return window !== undefined && offset >= window.start && wanted <= window.start + window.bytes.length;
  }

  private hit(index: number, offset: number, wanted: number): Uint8Array {
    this.lastHit = index;
    const { start, bytes } = this.windows[index]!;
    return bytes.subarray(offset - start, wanted - start);
  }

  private keep(start: number, bytes: Uint8Array): void {
    if (bytes.length === 0 || this.kept + bytes.length > ZIP_LIMITS.maxCachedBytes) return;
    this.windows.push({ start, bytes });
    this.kept += bytes.length;
  }
}

export async function* chunksOf(source: ByteSource, start: number, length: number): AsyncGenerator<Uint8Array> {
  for (let done = 0; done < length;) {
    const bytes = await source.read(start + done, Math.min(ZIP_LIMITS.inflateChunk, length - done));
    if (bytes.length === 0) return;
    done += bytes.length;
    yield bytes;
  }
}
