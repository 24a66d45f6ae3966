import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { constants as zlibConstants, crc32, createInflateRaw, inflateRawSync } from "node:zlib";
import type { FormatHandler, Probe } from "../formats/types.js";
import type { InspectContext } from "../inspect.js";
import { OPCODES } from "../pickle/opcodes.js";
import { BufferSource, SliceSource, type ByteSource } from "../source/byte-source.js";
import { runPickles } from "../formats/pickle.js";
import {
  STORAGE_SNIFF_BYTES,
  indicateAt,
  isTorchScriptSource,
  isTorchStorage,
  reportTorchScriptSources,
  startsWithContainerMagic,
  storageMayHoldCode,
  torchZipLayout,
  type TorchScriptSource,
  type TorchZipLayout,
} from "../formats/pytorch.js";
import { packageMemberKind, reportPackageSource, torchPackageRoots } from "../formats/torch-package.js";

/**
 * A ZIP reader as lenient as the loaders that open model files, so that nothing a loader would run escapes the
 * scan. It follows PyTorch's miniz reader (torch/csrc: PyTorchStreamReader): the central directory is the truth,
 * a local header is read only for its name and extra lengths (to find where the data starts), CRCs, flag bits and
 * local names are ignored, trailing bytes after the end record are fine. It also reads what Python's zipfile
 * (Keras, NumPy's npz, joblib users) would: prepended data, the last of duplicate names. Every entry is scanned,
 * duplicates and entries the central directory does not list included; every irregularity is an indicator.
 */

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_END = 0x06054b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const SIG_ZIP64_END = 0x06064b50;

const LOCAL_HEADER_SIZE = 30;
const CENTRAL_HEADER_SIZE = 46;
const END_SIZE = 22;
const ZIP64_LOCATOR_SIZE = 20;
const ZIP64_END_SIZE = 56;
/** The end record is followed by a comment of at most 64 KiB: it lies in this many bytes at the end. */
const END_SEARCH_SPAN = END_SIZE + 0xffff;

/** Budgets of the reader itself; the context's limits (members, depth, bytes, ratio, time) apply on top. */
export const ZIP_LIMITS = {
  /** A central directory larger than this is refused (100k entries with long names fit in a few MiB). */
  maxCentralDirectoryBytes: 64 * 1024 * 1024,
  /** Local headers whose reads are merged when they lie this close together. */
  headerBatchBytes: 64 * 1024,
  /** Local-header batches read at once (each is a round trip on the Hub). */
  concurrentReads: 16,
  /** Bytes kept from header batch reads, so small members are served without a second read. */
  maxCachedBytes: 16 * 1024 * 1024,
  /** A stored pickle-like member up to this size is read whole, so its CRC can be checked. */
  maxInMemoryMember: 16 * 1024 * 1024,
  /** TorchScript source read per code file. */
  maxSourceBytes: 4 * 1024 * 1024,
  /** Compressed bytes per read while inflating. */
  inflateChunk: 1024 * 1024,
  /** Output below which the compression ratio is not judged (a small run of zeros compresses very well). */
  ratioFloorBytes: 1024 * 1024,
  /** Messages kept per indicator id; the rest are counted in one summary. */
  maxMessagesPerId: 20,
};

/** Flag bits every writer uses: deflate options (1, 2), data descriptor (3), UTF-8 names (11). */
const ORDINARY_FLAGS = 0x0002 | 0x0004 | 0x0008 | 0x0800;
const FLAG_ENCRYPTED = 0x0001;
const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;

const METHOD_NAMES: Readonly<Record<number, string>> = {
  1: "shrink",
  6: "implode",
  9: "deflate64",
  12: "bzip2",
  14: "lzma",
  93: "zstd",
  95: "xz",
  98: "ppmd",
  99: "AES",
};

export const zipFormat: FormatHandler = {
  name: "zip",
  sniff(probe: Probe): boolean {
    const head = probe.head;
    if (head.length >= 4 && (u32(head, 0) === SIG_LOCAL || u32(head, 0) === SIG_END)) return true;
    return findSignatureBackwards(probe.tail, SIG_END, probe.tail.length - END_SIZE) >= 0;
  },
  async inspect(source: ByteSource, ctx: InspectContext, probe: Probe): Promise<boolean> {
    return new ZipReader(source, ctx, probe).run();
  },
};

interface EndRecord {
  /** Offset of the end record (of the ZIP64 end record when there is one): the central directory ends before it. */
  limit: number;
  entries: number;
  cdSize: number;
  cdOffset: number;
  zip64: boolean;
}

/** An entry as the central directory (or, for a hidden entry, its local header) describes it. */
interface ZipEntry {
  name: string;
  nameBytes: Uint8Array;
  flags: number;
  method: number;
  crc: number;
  compressedSize: number;
  uncompressedSize: number;
  externalAttr: number;
  /** Absolute offset of the local header (central value plus any prepended bytes). */
  localOffset: number;
  /** Where the central directory record sits, for the report. */
  recordOffset: number;
  /** Absolute offset of the data, once the local header was read. */
  dataStart?: number;
  /** Not in the central directory: found by walking the local headers. */
  hidden: boolean;
}

interface LocalHeader {
  flags: number;
  method: number;
  compressedSize: number;
  nameBytes: Uint8Array;
  dataStart: number;
}

/** One read of a zip: locate, list, check, then scan every entry. */
class ZipReader {
  private readonly cache: RangeCache;
  private readonly findings: Findings;
  private readonly entries: ZipEntry[] = [];
  private readonly maxEntries: number;
  private layout: TorchZipLayout | undefined;
  private packageRoots = new Set<string>();
  /** Absolute offset of the central directory that was read: listed entries end before it. */
  private directoryStart: number | undefined;
  private readonly sources: TorchScriptSource[] = [];

  constructor(
    private readonly source: ByteSource,
    private readonly ctx: InspectContext,
    private readonly probe: Probe,
  ) {
    this.cache = new RangeCache(source, probe);
    this.findings = new Findings(ctx);
    this.maxEntries = ctx.limits.maxMembers;
  }

  /** False when the bytes are not a zip after all (a stray end-record signature in some other file's tail). */
  async run(): Promise<boolean> {
    const head = this.probe.head;
    const startsLikeZip = head.length >= 4 && (u32(head, 0) === SIG_LOCAL || u32(head, 0) === SIG_END);
    const end = await this.locateEnd();
    const listed = end ? await this.readCentralDirectory(end) : false;
    if (!listed && !startsLikeZip) return false; // findings are dropped with the reader
    if (!end) this.report("zip.malformed", "no end of central directory record: the archive is truncated or damaged");
    this.ctx.addFormat("zip");
    try {
      await this.readLocalHeaders();
      await this.findHiddenEntries();
      this.checkNames();
      this.checkOverlaps();
      this.classifyLayout();
      await this.scanEntries();
      reportTorchScriptSources(this.ctx, this.ctx.member, this.sources);
    } finally {
      this.findings.flush();
    }
    return true;
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
    if (prepended > 0 && !(this.probe.head.length >= 4 && u32(this.probe.head, 0) === SIG_LOCAL)) candidates.reverse();
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
   * covers the first bytes of the data, enough to sniff a tensor storage without another read.
   */
  private async readLocalHeaders(): Promise<void> {
    const order = [...this.entries].sort((a, b) => a.localOffset - b.localOffset);
    const span = (e: ZipEntry): number => LOCAL_HEADER_SIZE + e.nameBytes.length + 128 + STORAGE_SNIFF_BYTES;
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

  // ---- structural checks ----

  private checkNames(): void {
    const seen = new Map<string, number>();
    for (const entry of this.entries) {
      const count = (seen.get(entry.name) ?? 0) + 1;
      seen.set(entry.name, count);
      if (count === 2)
        this.reportEntry(
          entry,
          "zip.duplicate_name",
          `more than one entry named ${JSON.stringify(entry.name)} (torch.load reads the first, Python's zipfile the last; all were scanned)`,
        );
      if (isUnsafePath(entry.name))
        this.reportEntry(
          entry,
          "zip.path_traversal",
          `entry name ${JSON.stringify(entry.name)} leaves the extraction folder`,
        );
      if (((entry.externalAttr >>> 16) & S_IFMT) === S_IFLNK)
        this.reportEntry(entry, "zip.symlink", `entry ${JSON.stringify(entry.name)} is a symbolic link`);
      if (!entry.hidden && entry.flags & FLAG_ENCRYPTED)
        this.reportEntry(
          entry,
          "zip.encrypted",
          "entry is marked encrypted in the central directory (torch.load refuses it, zipfile asks for a password); its bytes were scanned as they are",
        );
      else if (entry.flags & ~ORDINARY_FLAGS)
        this.reportEntry(
          entry,
          "zip.unusual_flags",
          `general-purpose flags 0x${entry.flags.toString(16)} (torch.load ignores them; zipfile may refuse)`,
        );
    }
  }

  /** Entries whose bytes overlap (the overlapping-file zip bomb, or one payload listed under two names). */
  private checkOverlaps(): void {
    const spans = this.entries
      .filter((e) => e.dataStart !== undefined)
      .sort((a, b) => a.localOffset - b.localOffset || a.recordOffset - b.recordOffset);
    let reach = -1;
    let owner: ZipEntry | undefined;
    for (const entry of spans) {
      const stop = entry.dataStart! + entry.compressedSize;
      if (owner && entry.localOffset < reach)
        this.reportEntry(
          entry,
          "zip.overlapping_entries",
          `entry's bytes overlap those of ${JSON.stringify(owner.name)}`,
          entry.localOffset,
        );
      if (stop > reach) {
        reach = stop;
        owner = entry;
      }
    }
  }

  private classifyLayout(): void {
    const names = this.entries.map((e) => e.name);
    this.layout = torchZipLayout(names);
    if (this.layout?.checkpoint) this.ctx.addFormat("pytorch");
    if (this.layout?.torchScript) this.ctx.addFormat("torchscript");
    this.packageRoots = torchPackageRoots(names);
    if (this.packageRoots.size > 0) this.ctx.addFormat("torch-package");
    const files = names.filter((n) => !n.endsWith("/"));
    if (files.length > 0 && files.every((n) => n.endsWith(".npy"))) this.ctx.addFormat("npz");
  }

  // ---- scanning the entries ----

  private async scanEntries(): Promise<void> {
    const scanned = new Set<string>();
    for (const entry of this.entries) {
      if (Date.now() > this.ctx.deadline) {
        this.report("scan.limit", `time budget of ${this.ctx.limits.fileTimeoutMs} ms exhausted in the zip entries`);
        return;
      }
      if (entry.dataStart === undefined) continue;
      // Entries listed twice over the same bytes are scanned once (the overlap is reported).
      const key = `${entry.dataStart}:${entry.compressedSize}:${entry.method}`;
      if (scanned.has(key)) continue;
      scanned.add(key);
      try {
        await this.scanEntry(entry);
      } catch (e) {
        // A damaged entry must not end the scan of the others (modelscan#354 aborted the loop: fail open).
        this.reportEntry(entry, "zip.corrupt_entry", `entry could not be read: ${(e as Error).message}`);
      }
    }
  }

  private async scanEntry(entry: ZipEntry): Promise<void> {
    if (entry.name.endsWith("/") && entry.compressedSize === 0) return;
    const available = Math.max(0, Math.min(entry.compressedSize, this.source.size - entry.dataStart!));
    if (available < entry.compressedSize)
      this.reportEntry(
        entry,
        "zip.truncated_entry",
        `entry data runs ${entry.compressedSize - available} bytes past the end of the file`,
      );
    const data = { start: entry.dataStart!, length: available };
    if (entry.method !== 0 && entry.method !== 8) {
      const method = METHOD_NAMES[entry.method] ?? "unknown";
      this.reportEntry(
        entry,
        "zip.unsupported_method",
        `compression method ${entry.method} (${method}) cannot be read; the entry was not scanned`,
      );
      return;
    }
    const path = this.memberPath(entry.name);
    const packageKind = packageMemberKind(entry.name, this.packageRoots);
    if (packageKind === "source") {
      const { bytes, truncated } = await this.readBounded(entry, data, ZIP_LIMITS.maxSourceBytes);
      reportPackageSource(this.ctx, path, new TextDecoder("utf-8").decode(bytes), truncated);
      return;
    }
    if (packageKind === "metadata") return; // text records torch.package reads as text
    if (this.layout && isTorchScriptSource(entry.name, this.layout)) return this.collectSource(entry, data, path);
    if ((this.layout && isTorchStorage(entry.name, this.layout)) || packageKind === "storage") {
      const head = await this.memberHead(entry, data, STORAGE_SNIFF_BYTES);
      if (!storageMayHoldCode(head)) return; // raw tensor bytes: never read
      if (entry.method === 0 && !startsWithContainerMagic(head) && !(await this.storageRunsCode(data, path))) return;
    }
    if (entry.method === 8) return this.ctx.inspectStream(this.inflate(entry, data), path);
    await this.scanStored(entry, data, path);
  }

  /**
   * A stored entry. A small one, or one that starts like a pickle, is read whole (from the header batch when it
   * is there) so its CRC can be checked; anything else is handed over as a slice of the file, read only as far
   * as the formats that recognise it need.
   */
  private async scanStored(entry: ZipEntry, data: { start: number; length: number }, path: string): Promise<void> {
    const head = await this.cache.read(data.start, Math.min(data.length, 1));
    const pickleLike = head.length > 0 && OPCODES[head[0]!] !== undefined;
    if (data.length <= ZIP_LIMITS.headerBatchBytes || (pickleLike && data.length <= ZIP_LIMITS.maxInMemoryMember)) {
      const bytes = await this.cache.read(data.start, data.length);
      if (!entry.hidden && bytes.length === entry.compressedSize) this.checkCrc(entry, crc32(bytes));
      await this.ctx.inspectChild(new BufferSource(bytes, path), path);
      return;
    }
    await this.ctx.inspectChild(new SliceSource(this.source, data.start, data.length, path), path);
  }

  /**
   * A stored storage that starts like a pickle: float data does so about once in 16 000 storages, and the
   * pickle reader would then report a malformed stream. torch could only run code from it if the pickle imports
   * something, so the storage is handed to the formats only when a first pass finds an import or a nested payload.
   */
  private async storageRunsCode(data: { start: number; length: number }, path: string): Promise<boolean> {
    const slice = new SliceSource(this.source, data.start, data.length, path);
    const scan = await runPickles(slice, this.ctx, 0, { stopAfter: 1 });
    return scan.imports.length > 0 || scan.nested.length > 0;
  }

  /** The first decompressed bytes of an entry, for sniffing (a few KiB of input at most). */
  private async memberHead(entry: ZipEntry, data: { start: number; length: number }, n: number): Promise<Uint8Array> {
    if (entry.method === 0) return this.cache.read(data.start, Math.min(n, data.length));
    const input = await this.cache.read(data.start, Math.min(data.length, 4096));
    try {
      return inflateRawSync(input, { finishFlush: zlibConstants.Z_SYNC_FLUSH }).subarray(0, n);
    } catch {
      return new Uint8Array(0);
    }
  }

  /**
   * Inflates a deflated entry as a stream: compressed bytes are read in chunks, output is checked against the
   * compression-ratio limit and CRC-checked when it ends naturally. A corrupt stream ends the output (reported);
   * what came before the break is still scanned.
   */
  private async *inflate(entry: ZipEntry, data: { start: number; length: number }): AsyncGenerator<Uint8Array> {
    const ratioLimit = Math.max(ZIP_LIMITS.ratioFloorBytes, data.length * this.ctx.limits.maxCompressionRatio);
    const inflater = createInflateRaw();
    const feeding = pipeline(
      Readable.from(chunksOf(this.source, data.start, data.length), { objectMode: false }),
      inflater,
    ).catch((e: unknown) => e);
    let produced = 0;
    let crc = 0;
    let finished = false;
    try {
      for await (const chunk of inflater as AsyncIterable<Buffer>) {
        produced += chunk.length;
        if (produced > ratioLimit) {
          this.reportEntry(
            entry,
            "zip.compression_ratio",
            `entry inflates to more than ${this.ctx.limits.maxCompressionRatio} times its ${data.length} compressed bytes; decompression stopped`,
          );
          return;
        }
        crc = crc32(chunk, crc);
        yield chunk;
      }
      finished = true;
    } catch (e) {
      this.reportEntry(
        entry,
        "zip.corrupt_entry",
        `deflate data is corrupt after ${produced} bytes: ${(e as Error).message}`,
      );
    } finally {
      inflater.destroy();
      await feeding;
    }
    if (finished && !entry.hidden) this.checkCrc(entry, crc);
  }

  private checkCrc(entry: ZipEntry, actual: number): void {
    if (actual >>> 0 === entry.crc >>> 0) return;
    this.reportEntry(
      entry,
      "zip.crc_mismatch",
      `CRC-32 is 0x${(actual >>> 0).toString(16).padStart(8, "0")}, the central directory says 0x${entry.crc.toString(16).padStart(8, "0")} (torch.load ignores CRCs: miniz is built with MINIZ_DISABLE_ZIP_READER_CRC32_CHECKS; zipfile raises BadZipFile)`,
    );
  }

  /** TorchScript source: decoded and checked as text rather than run through the pickle detector. */
  private async collectSource(entry: ZipEntry, data: { start: number; length: number }, path: string): Promise<void> {
    const head = await this.memberHead(entry, data, STORAGE_SNIFF_BYTES);
    if (head[0] === 0x80 || storageMayHoldCode(head)) {
      // Binary in a source file is not TorchScript: judge it by its bytes.
      if (entry.method === 8) await this.ctx.inspectStream(this.inflate(entry, data), path);
      else await this.scanStored(entry, data, path);
      return;
    }
    const { bytes, truncated } = await this.readBounded(entry, data, ZIP_LIMITS.maxSourceBytes);
    this.sources.push({ member: path, text: new TextDecoder("utf-8").decode(bytes), truncated });
  }

  private async readBounded(
    entry: ZipEntry,
    data: { start: number; length: number },
    max: number,
  ): Promise<{ bytes: Uint8Array; truncated: boolean }> {
    if (entry.method === 0)
      return { bytes: await this.cache.read(data.start, Math.min(max, data.length)), truncated: data.length > max };
    const parts: Uint8Array[] = [];
    let total = 0;
    let truncated = false;
    for await (const chunk of this.inflate(entry, data)) {
      if (!this.ctx.spendDecompressed(chunk.length)) {
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

  // ---- reporting ----

  private memberPath(name: string): string {
    return this.ctx.member ? `${this.ctx.member}!${name}` : name;
  }

  private report(id: string, message: string, offset?: number): void {
    this.findings.add(this.ctx.member, id, message, offset);
  }

  private reportEntry(entry: ZipEntry, id: string, message: string, offset?: number): void {
    this.findings.add(this.memberPath(entry.name), id, message, offset ?? entry.recordOffset);
  }
}

/**
 * Indicators held until the container is known to be one (a stray signature must leave no trace), with a cap per
 * id so that an archive of 100 000 odd entries yields the first few messages and a count, not 100 000 lines.
 */
export class Findings {
  private readonly counts = new Map<string, number>();
  private readonly held: Array<{ member: string; id: string; message: string; offset: number | undefined }> = [];

  constructor(
    private readonly ctx: InspectContext,
    private readonly cap = ZIP_LIMITS.maxMessagesPerId,
  ) {}

  add(member: string, id: string, message: string, offset?: number): void {
    const count = (this.counts.get(id) ?? 0) + 1;
    this.counts.set(id, count);
    if (count <= this.cap) this.held.push({ member, id, message, offset });
  }

  /** Records what was held, plus one summary per id whose messages were cut. */
  flush(): void {
    for (const f of this.held) indicateAt(this.ctx, f.member, f.id, f.message, f.offset);
    for (const [id, count] of this.counts)
      if (count > this.cap)
        indicateAt(this.ctx, this.ctx.member, id, `${count - this.cap} more ${id} findings not listed`);
    this.held.length = 0;
    this.counts.clear();
  }
}

/**
 * Serves small reads from a few earlier larger reads (the probe's head, the end region, batches of local
 * headers), so that a header, the first bytes of a storage and a small member cost one read together. Bounded
 * in bytes kept.
 */
class RangeCache {
  private readonly windows: Array<{ start: number; bytes: Uint8Array }> = [];
  private kept = 0;

  constructor(
    private readonly source: ByteSource,
    probe: Probe,
  ) {
    // Only the head: it certainly starts at offset 0 (the probe's tail is not guaranteed to end the file).
    this.keep(0, probe.head);
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
    for (const { start, bytes } of this.windows)
      if (offset >= start && wanted <= start + bytes.length) return bytes.subarray(offset - start, wanted - start);
    return undefined;
  }

  private keep(start: number, bytes: Uint8Array): void {
    if (bytes.length === 0 || this.kept + bytes.length > ZIP_LIMITS.maxCachedBytes) return;
    this.windows.push({ start, bytes });
    this.kept += bytes.length;
  }
}

async function* chunksOf(source: ByteSource, start: number, length: number): AsyncGenerator<Uint8Array> {
  for (let done = 0; done < length;) {
    const bytes = await source.read(start + done, Math.min(ZIP_LIMITS.inflateChunk, length - done));
    if (bytes.length === 0) return;
    done += bytes.length;
    yield bytes;
  }
}

/** ZIP64 extended information (header 0x0001): 8-byte values for the fields whose 4-byte value is all ones. */
function applyZip64Extra(entry: ZipEntry, extra: Uint8Array): void {
  for (let p = 0; p + 4 <= extra.length;) {
    const id = u16(extra, p);
    const size = u16(extra, p + 2);
    if (id === 0x0001) {
      let q = p + 4;
      const stop = Math.min(p + 4 + size, extra.length);
      const take = (): number | undefined => (q + 8 <= stop ? ((q += 8), u64(extra, q - 8)) : undefined);
      if (entry.uncompressedSize === 0xffffffff) entry.uncompressedSize = take() ?? entry.uncompressedSize;
      if (entry.compressedSize === 0xffffffff) entry.compressedSize = take() ?? entry.compressedSize;
      if (entry.localOffset === 0xffffffff) entry.localOffset = take() ?? entry.localOffset;
      return;
    }
    p += 4 + size;
  }
}

/** `../` anywhere, a leading `/` or `\`, or a drive letter: extraction would write outside its folder. */
export function isUnsafePath(name: string): boolean {
  if (/^([/\\]|[A-Za-z]:)/.test(name)) return true;
  return name.split(/[/\\]/).includes("..");
}

const utf8 = new TextDecoder("utf-8");

/** Names are compared as bytes (as miniz does); this decoding is for matching layouts and for reports. */
function decodeName(bytes: Uint8Array): string {
  return utf8.decode(bytes);
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

function u16(b: Uint8Array, i: number): number {
  return b[i]! | (b[i + 1]! << 8);
}

function u32(b: Uint8Array, i: number): number {
  return (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16)) + b[i + 3]! * 0x1000000;
}

/** Exact below 2^53; larger values are rounded and then fail the bounds checks against the file size. */
function u64(b: Uint8Array, i: number): number {
  return u32(b, i) + u32(b, i + 4) * 0x100000000;
}

/** Last position ≤ `from` where the 4-byte little-endian `sig` starts, or -1. */
function findSignatureBackwards(bytes: Uint8Array, sig: number, from: number): number {
  for (let i = Math.min(from, bytes.length - 4); i >= 0; i--) if (bytes[i] === 0x50 && u32(bytes, i) === sig) return i;
  return -1;
}

/** First position in [from, to] where `sig` starts, or -1. */
function findSignatureForwards(bytes: Uint8Array, sig: number, from: number, to: number): number {
  for (let i = from; i <= Math.min(to, bytes.length - 4); i++) if (bytes[i] === 0x50 && u32(bytes, i) === sig) return i;
  return -1;
}
