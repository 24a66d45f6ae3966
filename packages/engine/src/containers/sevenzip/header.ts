/**
 * The 7z header: property ids, the bounded byte cursor, and the parsers of the streams and files info. Pure
 * parsing over bytes already in memory; decoding and extraction are in ../sevenzip.ts.
 */

/** A structural problem: the archive cannot be read as 7-Zip would read it. */
export class SevenZipError extends Error {}
/** A valid archive using something this reader does not implement. */
export class Unsupported extends Error {}

export const MAX_FOLDERS = 100_000;
export const MAX_FILES = 1_000_000;
export const MAX_CODERS = 16;
export const MAX_STREAMS_PER_CODER = 16;

// ---- structures ----

export interface Coder {
  id: string; // hex
  numIn: number;
  numOut: number;
  props: Uint8Array;
}

export interface Folder {
  coders: Coder[];
  bindPairs: Array<{ inIndex: number; outIndex: number }>;
  packedStreams: number[];
  unpackSizes: number[];
  crcDefined: boolean;
  /** Members cut from this folder's output, in order (SubStreamsInfo); one by default. */
  substreamSizes: number[];
}

export interface StreamsInfo {
  packPos: number;
  packSizes: number[];
  folders: Folder[];
}

export interface Member {
  name: string;
  hasStream: boolean;
}

export interface Archive {
  /** Absolute offset of the first pack stream. */
  dataStart: number;
  streams: StreamsInfo | undefined;
  members: Member[];
}

export function readHeader(cursor: Cursor): { streams: StreamsInfo | undefined; members: Member[] } {
  let id = cursor.number();
  if (id === Id.ArchiveProperties) {
    skipProperties(cursor);
    id = cursor.number();
  }
  if (id === Id.AdditionalStreamsInfo) {
    readStreamsInfo(cursor); // external data for the header itself; nothing we need
    id = cursor.number();
  }
  let streams: StreamsInfo | undefined;
  if (id === Id.MainStreamsInfo) {
    streams = readStreamsInfo(cursor);
    id = cursor.number();
  }
  let members: Member[] = [];
  if (id === Id.FilesInfo) {
    members = readFilesInfo(cursor, streams);
    id = cursor.number();
  }
  if (id !== Id.End) throw new SevenZipError(`unexpected header record ${id}`);
  return { streams, members };
}

export function skipProperties(cursor: Cursor): void {
  for (;;) {
    const type = cursor.number();
    if (type === Id.End) return;
    cursor.skip(cursor.number());
  }
}

export function readStreamsInfo(cursor: Cursor): StreamsInfo {
  const info: StreamsInfo = { packPos: 0, packSizes: [], folders: [] };
  for (;;) {
    const id = cursor.number();
    if (id === Id.End) return info;
    if (id === Id.PackInfo) readPackInfo(cursor, info);
    else if (id === Id.UnpackInfo) info.folders = readUnpackInfo(cursor);
    else if (id === Id.SubStreamsInfo) readSubStreamsInfo(cursor, info.folders);
    else throw new SevenZipError(`unexpected streams record ${id}`);
  }
}

export function readPackInfo(cursor: Cursor, info: StreamsInfo): void {
  info.packPos = cursor.number();
  const count = cursor.count(MAX_FOLDERS * MAX_STREAMS_PER_CODER, "pack streams");
  for (;;) {
    const id = cursor.number();
    if (id === Id.End) return;
    if (id === Id.Size) info.packSizes = Array.from({ length: count }, () => cursor.number());
    else if (id === Id.CRC) readDigests(cursor, count);
    else throw new SevenZipError(`unexpected pack-info record ${id}`);
  }
}

export function readUnpackInfo(cursor: Cursor): Folder[] {
  if (cursor.number() !== Id.Folder) throw new SevenZipError("unpack info without a folder list");
  const count = cursor.count(MAX_FOLDERS, "folders");
  if (cursor.byte() !== 0) throw new Unsupported("folders stored outside the header");
  const folders = Array.from({ length: count }, () => readFolder(cursor));
  if (cursor.number() !== Id.CodersUnpackSize) throw new SevenZipError("folders without unpack sizes");
  for (const folder of folders) {
    const outputs = folder.coders.reduce((n, c) => n + c.numOut, 0);
    folder.unpackSizes = Array.from({ length: outputs }, () => cursor.number());
    folder.substreamSizes = [folderOutputSize(folder)];
  }
  for (;;) {
    const id = cursor.number();
    if (id === Id.End) return folders;
    if (id !== Id.CRC) throw new SevenZipError(`unexpected unpack-info record ${id}`);
    const defined = readDigests(cursor, count);
    folders.forEach((f, i) => (f.crcDefined = defined[i]!));
  }
}

export function readFolder(cursor: Cursor): Folder {
  const numCoders = cursor.count(MAX_CODERS, "coders in a folder");
  if (numCoders === 0) throw new SevenZipError("folder without coders");
  const coders: Coder[] = [];
  for (let i = 0; i < numCoders; i++) {
    const flags = cursor.byte();
    if ((flags & 0x80) !== 0) throw new Unsupported("alternative coder methods");
    const id = hex(cursor.take(flags & 0x0f));
    const complex = (flags & 0x10) !== 0;
    const numIn = complex ? cursor.count(MAX_STREAMS_PER_CODER, "coder inputs") : 1;
    const numOut = complex ? cursor.count(MAX_STREAMS_PER_CODER, "coder outputs") : 1;
    const props = (flags & 0x20) !== 0 ? cursor.take(cursor.count(1024, "coder property bytes")) : new Uint8Array(0);
    coders.push({ id, numIn, numOut, props });
  }
  const totalOut = coders.reduce((n, c) => n + c.numOut, 0);
  const totalIn = coders.reduce((n, c) => n + c.numIn, 0);
  if (totalOut < 1 || totalIn < totalOut - 1) throw new SevenZipError("folder streams do not connect");
  const bindPairs = Array.from({ length: totalOut - 1 }, () => ({
    inIndex: cursor.number(),
    outIndex: cursor.number(),
  }));
  const numPacked = totalIn - bindPairs.length;
  let packedStreams: number[];
  if (numPacked === 1) {
    const free = [...Array(totalIn).keys()].find((i) => !bindPairs.some((p) => p.inIndex === i));
    if (free === undefined) throw new SevenZipError("folder has no packed input");
    packedStreams = [free];
  } else {
    packedStreams = Array.from({ length: numPacked }, () => cursor.number());
  }
  return { coders, bindPairs, packedStreams, unpackSizes: [], crcDefined: false, substreamSizes: [] };
}

export function readSubStreamsInfo(cursor: Cursor, folders: Folder[]): void {
  const counts = folders.map(() => 1);
  let id = cursor.number();
  if (id === Id.NumUnpackStream) {
    let total = 0;
    for (let i = 0; i < folders.length; i++) {
      counts[i] = cursor.count(MAX_FILES, "members in a folder");
      total += counts[i]!;
      if (total > MAX_FILES) throw new Unsupported(`more than ${MAX_FILES} members`);
    }
    id = cursor.number();
  }
  const hasSizes = id === Id.Size;
  folders.forEach((folder, i) => {
    const n = counts[i]!;
    if (n === 0) {
      folder.substreamSizes = [];
      return;
    }
    const sizes: number[] = [];
    let sum = 0;
    for (let k = 0; k < n - 1 && hasSizes; k++) {
      const size = cursor.number();
      sizes.push(size);
      sum += size;
    }
    const total = folderOutputSize(folder);
    if (sum > total) throw new SevenZipError("member sizes exceed their folder's size");
    sizes.push(total - sum);
    folder.substreamSizes = sizes;
  });
  if (hasSizes) id = cursor.number();
  for (;;) {
    if (id === Id.End) return;
    if (id !== Id.CRC) throw new SevenZipError(`unexpected substreams record ${id}`);
    const unknown = folders.reduce((n, f, i) => n + (counts[i] === 1 && f.crcDefined ? 0 : counts[i]!), 0);
    readDigests(cursor, unknown);
    id = cursor.number();
  }
}

/** Reads (and discards) CRCs; returns which were defined. */
export function readDigests(cursor: Cursor, count: number): boolean[] {
  const defined = cursor.byte() !== 0 ? new Array<boolean>(count).fill(true) : cursor.bits(count);
  cursor.skip(4 * defined.filter(Boolean).length);
  return defined;
}

export function readFilesInfo(cursor: Cursor, streams: StreamsInfo | undefined): Member[] {
  const count = cursor.count(MAX_FILES, "members");
  let emptyStream = new Array<boolean>(count).fill(false);
  let names: string[] = [];
  for (;;) {
    const type = cursor.number();
    if (type === Id.End) break;
    const size = cursor.number();
    const body = cursor.sub(size);
    if (type === Id.EmptyStream) emptyStream = body.bits(count);
    else if (type === Id.Names) names = readNames(body, count);
    // Times, attributes, empty-file and anti flags, padding: nothing a scan needs.
  }
  const streamCount = streams?.folders.reduce((n, f) => n + f.substreamSizes.length, 0) ?? 0;
  const members = Array.from({ length: count }, (_, i) => ({
    name: names[i] ?? `member${i}`,
    hasStream: !emptyStream[i],
  }));
  const withStream = members.filter((m) => m.hasStream).length;
  if (withStream !== streamCount)
    throw new SevenZipError(`${withStream} members with data but ${streamCount} data streams`);
  return members;
}

export function readNames(body: Cursor, count: number): string[] {
  if (body.byte() !== 0) throw new Unsupported("member names stored outside the header");
  const text = new TextDecoder("utf-16le").decode(body.rest());
  const names = text.split("\0").slice(0, count);
  if (names.length < count) throw new SevenZipError("fewer names than members");
  return names;
}

// ---- byte helpers ----

/** Property ids of the 7z header. */
export const Id = {
  End: 0x00,
  Header: 0x01,
  ArchiveProperties: 0x02,
  AdditionalStreamsInfo: 0x03,
  MainStreamsInfo: 0x04,
  FilesInfo: 0x05,
  PackInfo: 0x06,
  UnpackInfo: 0x07,
  SubStreamsInfo: 0x08,
  Size: 0x09,
  CRC: 0x0a,
  Folder: 0x0b,
  CodersUnpackSize: 0x0c,
  NumUnpackStream: 0x0d,
  EmptyStream: 0x0e,
  Names: 0x11,
  EncodedHeader: 0x17,
} as const;

/** A bounds-checked reader of header bytes; running past the end is a SevenZipError, never a wrong value. */
export class Cursor {
  private pos = 0;

  constructor(private readonly data: Uint8Array) {}

  byte(): number {
    if (this.pos >= this.data.length) throw new SevenZipError("header ends unexpectedly");
    return this.data[this.pos++]!;
  }

  /** 7z's variable-length number: leading one bits of the first byte say how many bytes follow. */
  number(): number {
    const first = this.byte();
    let value = 0;
    let mask = 0x80;
    for (let i = 0; i < 8; i++) {
      if ((first & mask) === 0) {
        value += (first & (mask - 1)) * 2 ** (8 * i);
        break;
      }
      value += this.byte() * 2 ** (8 * i);
      mask >>= 1;
    }
    if (!Number.isSafeInteger(value)) throw new SevenZipError("header number too large");
    return value;
  }

  /** A number used as a count, bounded so that arrays built from it stay small. */
  count(max: number, what: string): number {
    const n = this.number();
    if (n > max) throw new Unsupported(`${n} ${what} (more than ${max})`);
    if (n > this.data.length - this.pos + 1 && n > 64)
      throw new SevenZipError(`${n} ${what} in a header too small for them`);
    return n;
  }

  take(n: number): Uint8Array {
    if (n > this.data.length - this.pos) throw new SevenZipError("header ends unexpectedly");
    const out = this.data.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  skip(n: number): void {
    this.take(n);
  }

  sub(n: number): Cursor {
    return new Cursor(this.take(n));
  }

  rest(): Uint8Array {
    return this.take(this.data.length - this.pos);
  }

  /** A bit vector, most significant bit first. */
  bits(count: number): boolean[] {
    const packed = this.take(Math.ceil(count / 8));
    return Array.from({ length: count }, (_, i) => (packed[i >> 3]! & (0x80 >> (i & 7))) !== 0);
  }
}

export function u64(view: DataView, at: number): number {
  const value = view.getUint32(at, true) + view.getUint32(at + 4, true) * 0x100000000;
  if (!Number.isSafeInteger(value)) throw new SevenZipError("offset too large");
  return value;
}

export function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The size of the folder's final output: the one output stream no bind pair consumes. */
export function folderOutputSize(folder: Folder): number {
  const main = mainOutput(folder);
  return folder.unpackSizes[main] ?? 0;
}

export function mainOutput(folder: Folder): number {
  const total = folder.coders.reduce((n, c) => n + c.numOut, 0);
  for (let i = 0; i < total; i++) if (!folder.bindPairs.some((p) => p.outIndex === i)) return i;
  throw new SevenZipError("folder has no final output");
}
