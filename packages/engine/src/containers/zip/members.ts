import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { constants as zlibConstants, crc32, createInflateRaw, inflateRawSync } from "node:zlib";
import { SliceSource, type ByteSource } from "../../source/byte-source.js";
import { chunksOf, type RangeCache } from "./range-cache.js";
import { METHOD_DEFLATE, METHOD_NAMES, METHOD_STORED, ZIP_LIMITS, type ZipEntry } from "./records.js";

type Report = (entry: ZipEntry, id: string, message: string) => void;

/**
 * Reading the bytes of members: stored data as slices or whole (CRC-checked), deflated data as a stream checked
 * against the compression-ratio limit and CRC-checked when it ends. Anomalies go to `report`.
 */
export class ZipMemberReader {
  constructor(
    readonly source: ByteSource,
    readonly cache: RangeCache,
    readonly maxCompressionRatio: number,
    readonly report: Report,
  ) {}

  /** A member ready to read; undefined for a folder and for a method no loader can extract (reported). */
  open(entry: ZipEntry, path: string): ZipMember | undefined {
    if (entry.dataStart === undefined) return undefined;
    if (entry.name.endsWith("/") && entry.compressedSize === 0) return undefined;
    const available = Math.max(0, Math.min(entry.compressedSize, this.source.size - entry.dataStart));
    if (available < entry.compressedSize)
      this.report(
        entry,
        "zip.truncated_entry",
        `entry data runs ${entry.compressedSize - available} bytes past the end of the file`,
      );
    if (entry.method !== METHOD_STORED && entry.method !== METHOD_DEFLATE) {
      const method = METHOD_NAMES[entry.method] ?? "unknown";
      this.report(
        entry,
        "zip.unsupported_method",
        `compression method ${entry.method} (${method}) cannot be read; the entry was not scanned`,
      );
      return undefined;
    }
    return new ZipMember(this, entry, path, entry.dataStart, available);
  }
}

/** One readable member: its entry, its member path and where its (possibly compressed) data lies. */
export class ZipMember {
  constructor(
    private readonly reader: ZipMemberReader,
    readonly entry: ZipEntry,
    readonly path: string,
    /** Absolute offset of the data in the archive. */
    readonly start: number,
    /** Data bytes present in the file (the compressed size, or less for a truncated archive). */
    readonly length: number,
  ) {}

  get deflated(): boolean {
    return this.entry.method === METHOD_DEFLATE;
  }

  /** The first stored bytes (no decompression), served from the header batch when it holds them. */
  storedHead(n: number): Promise<Uint8Array> {
    return this.reader.cache.read(this.start, Math.min(this.length, n));
  }

  /** The first decompressed bytes, for sniffing (a few KiB of input at most). */
  async head(n: number): Promise<Uint8Array> {
    if (!this.deflated) return this.storedHead(n);
    const input = await this.reader.cache.read(this.start, Math.min(this.length, 4096));
    try {
      return inflateRawSync(input, { finishFlush: zlibConstants.Z_SYNC_FLUSH }).subarray(0, n);
    } catch {
      return new Uint8Array(0);
    }
  }

  /** A stored member's bytes as a slice of the archive, read only as far as a reader needs. */
  slice(): ByteSource {
    return new SliceSource(this.reader.source, this.start, this.length, this.path);
  }

  /** A stored member read whole, its CRC checked when the central directory gives one and it is complete. */
  async readWhole(): Promise<Uint8Array> {
    const bytes = await this.reader.cache.read(this.start, this.length);
    if (!this.entry.hidden && bytes.length === this.entry.compressedSize) this.checkCrc(crc32(bytes));
    return bytes;
  }

  /** At most `max` decompressed bytes; `spend` counts them against the scan's budget (false: stop). */
  async readBounded(
    max: number,
    spend: (bytes: number) => boolean,
  ): Promise<{ bytes: Uint8Array; truncated: boolean }> {
    if (!this.deflated)
      return {
        bytes: await this.reader.cache.read(this.start, Math.min(max, this.length)),
        truncated: this.length > max,
      };
    const parts: Uint8Array[] = [];
    let total = 0;
    let truncated = false;
    for await (const chunk of this.inflate()) {
      if (!spend(chunk.length)) {
        truncated = true;
        break;
      }
      parts.push(chunk.subarray(0, max - total));
      total += Math.min(chunk.length, max - total);
      if (total >= max) {
        truncated = true;
        break;
      }
    }
    return { bytes: Buffer.concat(parts), truncated };
  }

  /**
   * Inflates a deflated member as a stream: compressed bytes are read in chunks, output is checked against the
   * compression-ratio limit and CRC-checked when it ends naturally. A corrupt stream ends the output (reported);
   * what came before the break is still delivered.
   */
  async *inflate(): AsyncGenerator<Uint8Array> {
    const { source, maxCompressionRatio } = this.reader;
    const ratioLimit = Math.max(ZIP_LIMITS.ratioFloorBytes, this.length * maxCompressionRatio);
    const inflater = createInflateRaw();
    const feeding = pipeline(
      Readable.from(chunksOf(source, this.start, this.length), { objectMode: false }),
      inflater,
    ).catch((e: unknown) => e);
    let produced = 0;
    let crc = 0;
    let finished = false;
    try {
      for await (const chunk of inflater as AsyncIterable<Buffer>) {
        produced += chunk.length;
        if (produced > ratioLimit) {
          this.reader.report(
            this.entry,
            "zip.compression_ratio",
            `entry inflates to more than ${maxCompressionRatio} times its ${this.length} compressed bytes; decompression stopped`,
          );
          return;
        }
        crc = crc32(chunk, crc);
        yield chunk;
      }
      finished = true;
    } catch (e) {
      this.reader.report(
        this.entry,
        "zip.corrupt_entry",
        `deflate data is corrupt after ${produced} bytes: ${(e as Error).message}`,
      );
    } finally {
      inflater.destroy();
      await feeding;
    }
    if (finished && !this.entry.hidden) this.checkCrc(crc);
  }

  /**
   * For a deflated member that is not inflated to its end (a tensor storage skipped unread, a record torch reads
   * as text, a source read up to a bound): its declared sizes against the ratio limit, since the inflater's own
   * check never sees the rest.
   */
  checkDeclaredRatio(): void {
    if (!this.deflated) return;
    const ratio = this.reader.maxCompressionRatio;
    if (this.entry.uncompressedSize <= Math.max(ZIP_LIMITS.ratioFloorBytes, this.length * ratio)) return;
    this.reader.report(
      this.entry,
      "zip.compression_ratio",
      `entry declares ${this.entry.uncompressedSize} bytes from ${this.length} compressed bytes, beyond the ${ratio}:1 decompression-ratio limit; it was not inflated in full`,
    );
  }

  private checkCrc(actual: number): void {
    const entry = this.entry;
    if (actual >>> 0 === entry.crc >>> 0) return;
    this.reader.report(
      entry,
      "zip.crc_mismatch",
      `CRC-32 is 0x${(actual >>> 0).toString(16).padStart(8, "0")}, the central directory says 0x${entry.crc.toString(16).padStart(8, "0")} (torch.load ignores CRCs: miniz is built with MINIZ_DISABLE_ZIP_READER_CRC32_CHECKS; zipfile raises BadZipFile)`,
    );
  }
}
