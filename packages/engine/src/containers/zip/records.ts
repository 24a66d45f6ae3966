/**
 * The ZIP records as bytes: signatures, sizes, field offsets and the little helpers that decode them. No reads
 * and no judgement here; the directory reader, the member reader and the checks build on these.
 */

export const SIG_LOCAL = 0x04034b50;
export const SIG_CENTRAL = 0x02014b50;
export const SIG_END = 0x06054b50;
export const SIG_ZIP64_LOCATOR = 0x07064b50;
export const SIG_ZIP64_END = 0x06064b50;

export const LOCAL_HEADER_SIZE = 30;
export const CENTRAL_HEADER_SIZE = 46;
export const END_SIZE = 22;
export const ZIP64_LOCATOR_SIZE = 20;
export const ZIP64_END_SIZE = 56;
/** The end record is followed by a comment of at most 64 KiB: it lies in this many bytes at the end. */
export const END_SEARCH_SPAN = END_SIZE + 0xffff;

/** Budgets of the reader itself; the scan's limits (members, depth, bytes, ratio, time) apply on top. */
export const ZIP_LIMITS = {
  /** A central directory larger than this is refused (100k entries with long names fit in a few MiB). */
  maxCentralDirectoryBytes: 64 * 1024 * 1024,
  /** Local headers whose reads are merged when they lie this close together. */
  headerBatchBytes: 64 * 1024,
  /** Local-header batches read at once (each is a round trip on the Hub). */
  concurrentReads: 16,
  /** Bytes kept from header batch reads, so small members are served without a second read. */
  maxCachedBytes: 16 * 1024 * 1024,
  /** A stored member up to this size may be read whole, so its CRC can be checked. */
  maxInMemoryMember: 16 * 1024 * 1024,
  /** Compressed bytes per read while inflating. */
  inflateChunk: 1024 * 1024,
  /** Output below which the compression ratio is not judged (a small run of zeros compresses very well). */
  ratioFloorBytes: 1024 * 1024,
};

/** Flag bits every writer uses: deflate options (1, 2), data descriptor (3), UTF-8 names (11). */
export const ORDINARY_FLAGS = 0x0002 | 0x0004 | 0x0008 | 0x0800;
export const FLAG_ENCRYPTED = 0x0001;
export const S_IFMT = 0o170000;
export const S_IFLNK = 0o120000;

export const METHOD_STORED = 0;
export const METHOD_DEFLATE = 8;

export const METHOD_NAMES: Readonly<Record<number, string>> = {
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

export interface EndRecord {
  /** Offset of the end record (of the ZIP64 end record when there is one): the central directory ends before it. */
  limit: number;
  entries: number;
  cdSize: number;
  cdOffset: number;
  zip64: boolean;
}

/** An entry as the central directory (or, for a hidden entry, its local header) describes it. */
export interface ZipEntry {
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

export interface LocalHeader {
  flags: number;
  method: number;
  compressedSize: number;
  nameBytes: Uint8Array;
  dataStart: number;
}

/** ZIP64 extended information (header 0x0001): 8-byte values for the fields whose 4-byte value is all ones. */
export function applyZip64Extra(entry: ZipEntry, extra: Uint8Array): void {
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

const utf8 = new TextDecoder("utf-8");

/** Names are compared as bytes (as miniz does); this decoding is for matching layouts and for reports. */
export function decodeName(bytes: Uint8Array): string {
  return utf8.decode(bytes);
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

export function u16(b: Uint8Array, i: number): number {
  return b[i]! | (b[i + 1]! << 8);
}

export function u32(b: Uint8Array, i: number): number {
  return (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16)) + b[i + 3]! * 0x1000000;
}

/** Exact below 2^53; larger values are rounded and then fail the bounds checks against the file size. */
export function u64(b: Uint8Array, i: number): number {
  return u32(b, i) + u32(b, i + 4) * 0x100000000;
}

/** Last position ≤ `from` where the 4-byte little-endian `sig` starts, or -1. */
export function findSignatureBackwards(bytes: Uint8Array, sig: number, from: number): number {
  for (let i = Math.min(from, bytes.length - 4); i >= 0; i--) if (bytes[i] === 0x50 && u32(bytes, i) === sig) return i;
  return -1;
}

/** First position in [from, to] where `sig` starts, or -1. */
export function findSignatureForwards(bytes: Uint8Array, sig: number, from: number, to: number): number {
  for (let i = from; i <= Math.min(to, bytes.length - 4); i++) if (bytes[i] === 0x50 && u32(bytes, i) === sig) return i;
  return -1;
}

/** Whether the head of a file starts like a ZIP (a local header, or the end record of an empty archive). */
export function startsLikeZip(head: Uint8Array): boolean {
  return head.length >= 4 && (u32(head, 0) === SIG_LOCAL || u32(head, 0) === SIG_END);
}
