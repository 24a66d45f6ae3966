import type { ByteSource } from "../../source/byte-source.js";
import { AnomalyLog } from "../anomalies.js";
import type { Anomaly } from "../types.js";
import { checkNames, checkOverlaps } from "./checks.js";
import { ZipMemberReader, type ZipMember } from "./members.js";
import { RangeCache } from "./range-cache.js";
import {
  CENTRAL_HEADER_SIZE,
  END_SEARCH_SPAN,
  END_SIZE,
  LOCAL_HEADER_SIZE,
  ORDINARY_FLAGS,
  SIG_CENTRAL,
  SIG_END,
  SIG_LOCAL,
  SIG_ZIP64_END,
  SIG_ZIP64_LOCATOR,
  ZIP64_END_SIZE,
  ZIP64_LOCATOR_SIZE,
  ZIP_LIMITS,
  applyZip64Extra,
  bytesEqual,
  decodeName,
  findSignatureBackwards,
  findSignatureForwards,
  startsLikeZip,
  u16,
  u32,
  u64,
  type EndRecord,
  type LocalHeader,
  type ZipEntry,
} from "./records.js";

export type { ZipEntry } from "./records.js";
export type { ZipMember } from "./members.js";

/**
 * A ZIP reader as lenient as the loaders that open model files, so that nothing a loader would run escapes the
 * scan. It follows PyTorch's miniz reader (torch/csrc: PyTorchStreamReader): the central directory is the truth,
 * a local header is read only for its name and extra lengths (to find where the data starts), CRCs, flag bits and
 * local names are ignored, trailing bytes after the end record are fine. It also reads what Python's zipfile
 * (Keras, NumPy's npz, joblib users) would: prepended data, the last of duplicate names. Every entry is listed,
 * duplicates and entries the central directory does not list included; every irregularity is an anomaly, kept
 * as data for the caller to record. What the members mean (torch storages, pickles, sources) is not known here.
 */
export interface ZipOptions {
  /** Member path of the archive itself ("" for the file); members are `<base>!<name>`. */
  base: string;
  /** Entries listed at most (the rest are an anomaly). */
  maxEntries: number;
  /** Decompressed/compressed ratio above which inflating stops (an anomaly). */
  maxCompressionRatio: number;
}

export class ZipArchive {
  private readonly cache: RangeCache;
  /** Anomalies held until the caller records them (a stray signature must leave no trace). */
  readonly anomalies: AnomalyLog;
  readonly entries: ZipEntry[] = [];
  private readonly maxEntries: number;
  private readonly members: ZipMemberReader;
  /** Absolute offset of the central directory that was read: listed entries end before it. */
  private directoryStart: number | undefined;

  private constructor(
    private readonly source: ByteSource,
    private readonly head: Uint8Array,
    private readonly options: ZipOptions,
  ) {
    this.cache = new RangeCache(source, head);
    this.anomalies = new AnomalyLog(options.base);
    this.maxEntries = options.maxEntries;
    this.members = new ZipMemberReader(source, this.cache, options.maxCompressionRatio, (entry, id, message) =>
      this.reportEntry(entry, id, message),
    );
  }

  /**
   * Finds the end record and lists the central directory. Undefined when the bytes are not a zip after all (a
   * stray end-record signature in some other file's tail); nothing is then recorded.
   */
  static async open(source: ByteSource, head: Uint8Array, options: ZipOptions): Promise<ZipArchive | undefined> {
    const archive = new ZipArchive(source, head, options);
    const end = await archive.locateEnd();
    const listed = end ? await archive.readCentralDirectory(end) : false;
    if (!listed && !startsLikeZip(head)) return undefined;
    if (!end)
      archive.report("zip.malformed", "no end of central directory record: the archive is truncated or damaged");
    return archive;
  }

  /**
   * Reads the local headers (prefetching `dataPrefetch` bytes of each member's data), walks the gaps for
   * entries the directory does not list, and checks names and overlaps.
   */
  async survey(dataPrefetch: number): Promise<void> {
    await this.readLocalHeaders(dataPrefetch);
    await this.findHiddenEntries();
    checkNames(this.entries, (entry, id, message) => this.reportEntry(entry, id, message));
    checkOverlaps(this.entries, (entry, id, message, offset) => this.reportEntry(entry, id, message, offset));
  }

  /**
   * A member ready to read, or undefined for a folder and for an entry no loader can extract (its data is not
   * located, or its compression method is not stored/deflate: reported).
   */
  member(entry: ZipEntry): ZipMember | undefined {
    return this.members.open(entry, this.memberPath(entry.name));
  }

  /** Hands the held anomalies over; call once, whatever happened while reading the members. */
  flush(record: (anomaly: Anomaly) => void): void {
    this.anomalies.flush(record);
  }

  // ---- locating the central directory ----

  /**
   * The end record is searched backwards over the last 64 KiB + 22 bytes (one read, kept for the central
   * directory that usually precedes it), as miniz and Python do; bytes after it and a comment length that does
   * not match are accepted (torch.load accepts both). Both readers take the last signature; an implausible one is
   * reported and an earlier candidate tried.
   */
  private async locateEnd(): Promise<EndRecord | undefined> {
    const span = Math.min(this.source.size, END_SEARCH_SPAN);
    const tailStart = this.source.size - span;
    const tail = await this.cache.prefetch(tailStart, span);
    let at = findSignatureBackwards(tail, SIG_END, tail.length - END_SIZE);
    for (let tries = 0; at >= 0 && tries < 16; tries++) {
      const record = await this.readEndRecord(tail, tailStart, at);
      if (record) return record;
      at = findSignatureBackwards(tail, SIG_END, at - 1);
    }
    return undefined;
  }

  private async readEndRecord(tail: Uint8Array, tailStart: number, at: number): Promise<EndRecord | undefined> {
    const offset = tailStart + at;
    let record: EndRecord = {
      limit: offset,
      entries: u16(tail, at + 10),
      cdSize: u32(tail, at + 12),
      cdOffset: u32(tail, at + 16),
      zip64: false,
    };
    const locatorOffset = offset - ZIP64_LOCATOR_SIZE;
    const locator = locatorOffset >= 0 ? await this.cache.read(locatorOffset, ZIP64_LOCATOR_SIZE) : new Uint8Array(0);
    if (locator.length === ZIP64_LOCATOR_SIZE && u32(locator, 0) === SIG_ZIP64_LOCATOR) {
      const zip64 = await this.readZip64End(u64(locator, 8), locatorOffset);
      if (zip64) record = zip64;
      else this.report("zip.malformed", "ZIP64 locator points at no ZIP64 end record", locatorOffset);
    }
    if (record.cdSize > record.limit) {
      this.report(
        "zip.malformed",
        `end record at ${offset} describes a central directory larger than the file`,
        offset,
      );
      return undefined;
    }
    return record;
  }

  /**
   * miniz reads the ZIP64 end record where the locator says; Python's zipfile expects it right before the locator.
   * Either position is accepted.
   */
  private async readZip64End(stated: number, locatorOffset: number): Promise<EndRecord | undefined> {
    for (const at of [stated, locatorOffset - ZIP64_END_SIZE]) {
      if (at < 0 || at + ZIP64_END_SIZE > this.source.size) continue;
      const bytes = await this.cache.read(at, ZIP64_END_SIZE);
      if (bytes.length < ZIP64_END_SIZE || u32(bytes, 0) !== SIG_ZIP64_END) continue;
      return { limit: at, entries: u64(bytes, 32), cdSize: u64(bytes, 40), cdOffset: u64(bytes, 48), zip64: true };
    }
    return undefined;
  }

  /**
   * Reads the central directory with one read and lists its records. Where the stated offset holds no
   * directory, Python's reading (the directory sits right before the end record, after prepended bytes) is tried.
   */
  private async readCentralDirectory(end: EndRecord): Promise<boolean> {
    if (end.cdSize > ZIP_LIMITS.maxCentralDirectoryBytes) {
      this.report(
        "zip.central_directory_too_large",
        `central directory of ${end.cdSize} bytes exceeds the ${ZIP_LIMITS.maxCentralDirectoryBytes}-byte budget; entries were found by walking local headers instead`,
      );
      return false;
    }
    if (end.cdSize === 0) return end.entries === 0;
    const prepended = end.limit - end.cdSize - end.cdOffset;
    const candidates = prepended > 0 ? [0, prepended] : [0];
    if (prepended > 0 && !(this.head.length >= 4 && u32(this.head, 0) === SIG_LOCAL)) candidates.reverse();
    for (const base of candidates) {
      const start = end.cdOffset + base;
      if (start + end.cdSize > this.source.size) continue;
      const bytes = await this.cache.read(start, end.cdSize);
      if (bytes.length < 4 || u32(bytes, 0) !== SIG_CENTRAL) continue;
      this.directoryStart = start;
      if (base > 0)
        this.report(
          "zip.prepended_data",
          `${base} bytes precede the archive (Python's zipfile reads past them; torch.load does not)`,
          0,
        );
      this.parseCentralDirectory(bytes, start, base, end.entries);
      return true;
    }
    this.report("zip.malformed", `no central directory at offset ${end.cdOffset}`, end.cdOffset);
    return false;
  }

  private parseCentralDirectory(bytes: Uint8Array, start: number, base: number, stated: number): void {
    let p = 0;
    while (p + CENTRAL_HEADER_SIZE <= bytes.length && u32(bytes, p) === SIG_CENTRAL) {
      if (this.entries.length >= this.maxEntries) {
        this.report("zip.too_many_entries", `more than ${this.maxEntries} entries; the rest were not scanned`);
        return;
      }
      const nameLength = u16(bytes, p + 28);
      const extraLength = u16(bytes, p + 30);
      const commentLength = u16(bytes, p + 32);
      const next = p + CENTRAL_HEADER_SIZE + nameLength + extraLength + commentLength;
      if (next > bytes.length) {
        this.report("zip.malformed", "central directory record runs past the directory", start + p);
        break;
      }
      const nameBytes = bytes.slice(p + CENTRAL_HEADER_SIZE, p + CENTRAL_HEADER_SIZE + nameLength);
      const entry: ZipEntry = {
        name: decodeName(nameBytes),
        nameBytes,
        flags: u16(bytes, p + 8),
        method: u16(bytes, p + 10),
        crc: u32(bytes, p + 16),
        compressedSize: u32(bytes, p + 20),
        uncompressedSize: u32(bytes, p + 24),
        externalAttr: u32(bytes, p + 38),
        localOffset: u32(bytes, p + 42),
        recordOffset: start + p,
        hidden: false,
      };
      applyZip64Extra(
        entry,
        bytes.subarray(p + CENTRAL_HEADER_SIZE + nameLength, p + CENTRAL_HEADER_SIZE + nameLength + extraLength),
      );
      entry.localOffset += base;
      this.entries.push(entry);
      p = next;
    }
    // miniz reads exactly the stated count, Python's zipfile every record in the directory: all are scanned.
    if (this.entries.length !== stated)
      this.report(
        "zip.malformed",
        `end record counts ${stated} entries, the central directory holds ${this.entries.length}`,
      );
  }

  // ---- local headers ----

  /**
   * Reads each entry's local header for its name and extra lengths only (miniz and zipfile take sizes, method and
   * flags from the central directory). Headers lying close together are fetched with one read; the read also
   * covers the first `dataPrefetch` bytes of the data, so that a caller sniffing members needs no other read.
   */
  private async readLocalHeaders(dataPrefetch: number): Promise<void> {
    const order = [...this.entries].sort((a, b) => a.localOffset - b.localOffset);
    const span = (e: ZipEntry): number => LOCAL_HEADER_SIZE + e.nameBytes.length + 128 + dataPrefetch;
    const batches: Array<{ offset: number; length: number }> = [];
    let i = 0;
    while (i < order.length) {
      const first = order[i]!;
      let last = i;
      let end = first.localOffset + span(first);
      while (last + 1 < order.length) {
        const next = order[last + 1]!;
        const nextEnd = next.localOffset + span(next);
        if (nextEnd - first.localOffset > ZIP_LIMITS.headerBatchBytes) break;
        end = Math.max(end, nextEnd);
        last++;
      }
      batches.push({ offset: first.localOffset, length: end - first.localOffset });
      i = last + 1;
    }
    // Fetched concurrently: on the Hub every batch is a round trip, and a checkpoint has hundreds of storages.
    for (let b = 0; b < batches.length; b += ZIP_LIMITS.concurrentReads)
      await Promise.all(
        batches.slice(b, b + ZIP_LIMITS.concurrentReads).map((x) => this.cache.prefetch(x.offset, x.length)),
      );
    for (const entry of order) await this.attachLocalHeader(entry);
  }

  private async attachLocalHeader(entry: ZipEntry): Promise<void> {
    const local = await this.readLocalHeader(entry.localOffset);
    if (!local) {
      this.reportEntry(
        entry,
        "zip.malformed",
        `no local header at offset ${entry.localOffset}; the loaders cannot extract this entry`,
      );
      return;
    }
    entry.dataStart = local.dataStart;
    if (!bytesEqual(local.nameBytes, entry.nameBytes))
      this.reportEntry(
        entry,
        "zip.name_mismatch",
        `local header names ${JSON.stringify(decodeName(local.nameBytes))}; torch.load uses the central name, Python's zipfile refuses the entry`,
        entry.localOffset,
      );
    const localOdd = local.flags & ~ORDINARY_FLAGS;
    if (localOdd !== (entry.flags & ~ORDINARY_FLAGS))
      this.reportEntry(
        entry,
        "zip.unusual_flags",
        `local header flags 0x${local.flags.toString(16)} differ from the central 0x${entry.flags.toString(16)} (torch.load ignores local flags)`,
        entry.localOffset,
      );
  }

  private async readLocalHeader(offset: number): Promise<LocalHeader | undefined> {
    if (offset < 0 || offset + LOCAL_HEADER_SIZE > this.source.size) return undefined;
    const fixed = await this.cache.read(offset, LOCAL_HEADER_SIZE);
    if (fixed.length < LOCAL_HEADER_SIZE || u32(fixed, 0) !== SIG_LOCAL) return undefined;
    const nameLength = u16(fixed, 26);
    const extraLength = u16(fixed, 28);
    const nameBytes = (await this.cache.read(offset + LOCAL_HEADER_SIZE, nameLength)).slice();
    return {
      flags: u16(fixed, 6),
      method: u16(fixed, 8),
      compressedSize: u32(fixed, 18),
      nameBytes,
      dataStart: offset + LOCAL_HEADER_SIZE + nameLength + extraLength,
    };
  }

  /**
   * Entries the central directory does not list: a local header in a stretch of the file that no listed entry
   * covers (before the first entry, between entries, before the directory). A streaming reader would extract
   * them; nothing is read where listed entries follow each other (a data descriptor is shorter than a header).
   */
  private async findHiddenEntries(): Promise<void> {
    const listedEnd = Math.min(this.directoryStart ?? this.source.size, this.source.size);
    const covered = this.entries
      .filter((e) => e.dataStart !== undefined)
      .map((e) => [e.localOffset, e.dataStart! + e.compressedSize] as const)
      .sort((a, b) => a[0] - b[0]);
    let at = 0;
    const gaps: Array<[number, number]> = [];
    for (const [start, stop] of covered) {
      if (start > at) gaps.push([at, start]);
      at = Math.max(at, stop);
    }
    if (listedEnd > at) gaps.push([at, listedEnd]);
    for (const [start, stop] of gaps) await this.walkGap(start, stop);
  }

  private async walkGap(start: number, stop: number): Promise<void> {
    let at = start;
    while (stop - at >= LOCAL_HEADER_SIZE && this.entries.length < this.maxEntries) {
      // A data descriptor (12–24 bytes) may separate the previous data from the next header.
      const window = await this.cache.read(at, Math.min(stop - at, 64));
      const found = findSignatureForwards(window, SIG_LOCAL, 0, 28);
      if (found < 0) return;
      const offset = at + found;
      const local = await this.readLocalHeader(offset);
      if (!local || local.dataStart > stop) return;
      // With a data descriptor the local size may be 0: the data then runs to the next listed header.
      const unknownSize = local.compressedSize === 0 || local.dataStart + local.compressedSize > stop;
      const size = unknownSize ? stop - local.dataStart : local.compressedSize;
      const entry: ZipEntry = {
        name: decodeName(local.nameBytes),
        nameBytes: local.nameBytes,
        flags: local.flags,
        method: local.method,
        crc: 0,
        compressedSize: size,
        uncompressedSize: 0,
        externalAttr: 0,
        localOffset: offset,
        recordOffset: offset,
        dataStart: local.dataStart,
        hidden: true,
      };
      this.entries.push(entry);
      this.reportEntry(
        entry,
        "zip.hidden_entry",
        `local header at ${offset} is not listed in the central directory (torch and zipfile skip it; streaming readers extract it)`,
        offset,
      );
      at = local.dataStart + size;
      if (size === 0) at = local.dataStart + 1;
    }
  }

  // ---- reporting ----

  memberPath(name: string): string {
    return this.options.base ? `${this.options.base}!${name}` : name;
  }

  /** An anomaly of the archive as a whole. */
  report(id: string, message: string, offset?: number): void {
    this.anomalies.add(this.options.base, id, message, offset);
  }

  /** An anomaly of one entry, at its central directory record unless told otherwise. */
  reportEntry(entry: ZipEntry, id: string, message: string, offset?: number): void {
    this.anomalies.add(this.memberPath(entry.name), id, message, offset ?? entry.recordOffset);
  }
}
