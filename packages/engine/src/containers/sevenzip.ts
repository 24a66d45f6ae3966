import { createInflateRaw } from "node:zlib";
import { LzmaInput, LzmaLimit, decodeLzma1, decodeLzma2, decodeProperties, lzma2DictionarySize } from "./lzma.js";
import { deltaDecode, x86Decode } from "./xz.js";
import type { ContainerContext, ContainerHandler } from "./types.js";
import type { ByteSource } from "../source/byte-source.js";
import type { Probe } from "../source/probe.js";
import { CompressedInput, DecompressionGuard, LimitExceeded, viaTransform } from "./decode-stream.js";
import { decodeBz2, guardedWithHandler } from "./compressed.js";
import {
  Cursor,
  Id,
  SevenZipError,
  Unsupported,
  folderOutputSize,
  mainOutput,
  readHeader,
  readStreamsInfo,
  u64,
  type Archive,
  type Coder,
  type Folder,
  type Member,
  type StreamsInfo,
} from "./sevenzip/header.js";
import { StreamChunks } from "../source/byte-reader.js";

/**
 * 7z archives. The nullifAI models were PyTorch checkpoints packed with 7z so that zip-only scanners saw nothing;
 * every member is therefore decoded and inspected by its content. The reader covers what 7-Zip and py7zr write by
 * default: LZMA, LZMA2, Deflate, BZip2 and Copy coders, optionally behind BCJ/Delta filters, solid folders, and a
 * header that is itself compressed. Encryption and exotic coders (PPMd, BCJ2, Deflate64) are reported as
 * unsupported: a file that cannot be opened is never passed.
 *
 * Folders are decoded as streams and cut into members as they arrive, so memory stays bounded by the decoder's
 * window and the inspection buffer; CRCs are not checked (reading more than the extractor would is the safe side).
 */

const SIGNATURE = [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c];
const SIGNATURE_HEADER_SIZE = 32;
/** Bytes of the (decoded) header: names and sizes of ~1M members fit in far less. */
const MAX_HEADER_BYTES = 64 * 1024 * 1024;
/** Rounds of "the header is itself an encoded stream". 7-Zip writes one. */
const MAX_HEADER_ENCODINGS = 4;
/** Output below this is never called a bomb. */
const RATIO_GRACE_BYTES = 4 * 1024 * 1024;

export const sevenZipFormat: ContainerHandler = {
  name: "7z",
  exclusive: true,
  sniff: (probe: Probe) => SIGNATURE.every((b, i) => probe.head[i] === b),
  async inspect(source: ByteSource, ctx: ContainerContext): Promise<boolean> {
    try {
      const archive = await readArchive(source, ctx);
      await extractAll(archive, source, ctx);
    } catch (e) {
      if (e instanceof Unsupported) ctx.indicate("scan.unsupported", `7z: ${e.message}`);
      else if (e instanceof SevenZipError) ctx.indicate("sevenzip.malformed", e.message);
      else if (e instanceof LimitExceeded || e instanceof LzmaLimit) ctx.indicate("scan.limit", e.message);
      else throw e;
    }
    return true;
  },
};

// ---- header reading ----

async function readArchive(source: ByteSource, ctx: ContainerContext): Promise<Archive> {
  const start = await source.read(0, SIGNATURE_HEADER_SIZE);
  if (start.length < SIGNATURE_HEADER_SIZE) throw new SevenZipError("file ends inside the signature header");
  if (start[6] !== 0) throw new Unsupported(`format version ${start[6]}.${start[7]}`);
  const view = new DataView(start.buffer, start.byteOffset, start.length);
  const nextOffset = u64(view, 12);
  const nextSize = u64(view, 20);
  const headerAt = SIGNATURE_HEADER_SIZE + nextOffset;
  if (nextSize === 0) return { dataStart: SIGNATURE_HEADER_SIZE, streams: undefined, members: [] };
  if (nextSize > MAX_HEADER_BYTES)
    throw new Unsupported(`header of ${nextSize} bytes is larger than ${MAX_HEADER_BYTES}`);
  if (headerAt + nextSize > source.size)
    throw new SevenZipError(
      `header at ${headerAt} (${nextSize} bytes) lies past the end of the file (truncated archive)`,
    );
  let header = await source.read(headerAt, nextSize);
  for (let round = 0; ; round++) {
    const cursor = new Cursor(header);
    const kind = cursor.number();
    if (kind === Id.Header) return { dataStart: SIGNATURE_HEADER_SIZE, ...readHeader(cursor) };
    if (kind !== Id.EncodedHeader) throw new SevenZipError(`unexpected header record ${kind}`);
    if (round >= MAX_HEADER_ENCODINGS) throw new SevenZipError("header encoded too many times");
    header = await decodeHeaderStream(readStreamsInfo(cursor), source, ctx);
  }
}

/** Decodes the single folder an encoded header describes, into memory (bounded by MAX_HEADER_BYTES). */
async function decodeHeaderStream(info: StreamsInfo, source: ByteSource, ctx: ContainerContext): Promise<Uint8Array> {
  const folder = info.folders[0];
  if (info.folders.length !== 1 || !folder) throw new SevenZipError("encoded header without exactly one folder");
  const size = folderOutputSize(folder);
  if (size > MAX_HEADER_BYTES)
    throw new Unsupported(`decoded header of ${size} bytes is larger than ${MAX_HEADER_BYTES}`);
  const out = new Uint8Array(size);
  let filled = 0;
  let failure: unknown;
  const decoded = decodeFolder(folder, 0, info, SIGNATURE_HEADER_SIZE, source, ctx, (e) => (failure ??= e));
  for await (const chunk of decoded) {
    const n = Math.min(chunk.length, size - filled);
    out.set(chunk.subarray(0, n), filled);
    filled += n;
    if (filled === size) break;
  }
  if (filled < size) {
    if (failure instanceof Unsupported) throw new Unsupported(`header: ${failure.message}`);
    const reason = failure instanceof Error ? `: ${failure.message}` : "";
    throw new SevenZipError(`encoded header decodes to ${filled} of ${size} bytes${reason}`);
  }
  return out;
}

// ---- extraction ----

async function extractAll(archive: Archive, source: ByteSource, ctx: ContainerContext): Promise<void> {
  const streams = archive.streams;
  if (!streams) return;
  const withData = archive.members.filter((m) => m.hasStream);
  let next = 0;
  for (let f = 0; f < streams.folders.length; f++) {
    const folder = streams.folders[f]!;
    const members = withData.slice(next, next + folder.substreamSizes.length);
    next += folder.substreamSizes.length;
    if (members.length === 0) continue;
    if (Date.now() > ctx.deadline) throw new LimitExceeded(`time budget of ${ctx.limits.fileTimeoutMs} ms exhausted`);
    const skipped = declaredBomb(folder, f, streams, ctx);
    if (skipped) {
      ctx.indicate("scan.limit", skipped);
      continue;
    }
    await extractFolder(folder, f, members, streams, archive.dataStart, source, ctx);
  }
}

/** Checks a folder's declared sizes against the ratio cap before decoding anything. */
function declaredBomb(folder: Folder, index: number, streams: StreamsInfo, ctx: ContainerContext): string | undefined {
  const output = folderOutputSize(folder);
  const packed = packRange(index, streams, SIGNATURE_HEADER_SIZE).size;
  const ratio = ctx.limits.maxCompressionRatio;
  if (output > RATIO_GRACE_BYTES && output > Math.max(1, packed) * ratio)
    return `7z folder ${index} declares ${output} bytes from ${packed}: more than ${ratio} times, suspected decompression bomb`;
  return undefined;
}

async function extractFolder(
  folder: Folder,
  index: number,
  members: Member[],
  streams: StreamsInfo,
  dataStart: number,
  source: ByteSource,
  ctx: ContainerContext,
): Promise<void> {
  const decoded = decodeFolder(folder, index, streams, dataStart, source, ctx, (e) => reportFailure(ctx, index, e));
  const cursor = new ChunkCursor(decoded[Symbol.asyncIterator]());
  for (let i = 0; i < members.length; i++) {
    const size = folder.substreamSizes[i]!;
    const name = memberPath(ctx, members[i]!.name);
    await ctx.inspectStream(cursor.take(size), name);
    // inspectStream stops early on its own budgets; the rest of this member still has to be decoded to reach the next.
    const left = cursor.leftInTake;
    if (left > 0) {
      if (!ctx.spendDecompressed(left))
        throw new LimitExceeded(
          `decompressed data of the 7z archive exceeds the per-file limit maxDecompressedBytes (${ctx.limits.maxDecompressedBytes} bytes)`,
        );
      await cursor.discard(left);
    }
    if (cursor.ended) break; // decodeFolder has reported why the output fell short
  }
  await cursor.close();
}

function reportFailure(ctx: ContainerContext, folder: number, e: unknown): void {
  if (e instanceof Unsupported) ctx.indicate("scan.unsupported", `7z folder ${folder}: ${e.message}`);
  else if (e instanceof LimitExceeded || e instanceof LzmaLimit) ctx.indicate("scan.limit", e.message);
  else
    ctx.indicate(
      "compression.corrupt",
      `7z folder ${folder} is corrupt or truncated: ${e instanceof Error ? e.message : String(e)}`,
    );
}

function memberPath(ctx: ContainerContext, name: string): string {
  return ctx.member ? `${ctx.member}!${name}` : name;
}

/**
 * The folder's output, cut to its declared size. Decoding errors end the stream after `onError` (members already
 * decoded keep their findings); an unsupported coder chain yields nothing.
 */
async function* decodeFolder(
  folder: Folder,
  index: number,
  streams: StreamsInfo,
  dataStart: number,
  source: ByteSource,
  ctx: ContainerContext,
  onError: (e: unknown) => void,
): AsyncGenerator<Uint8Array> {
  let chain: CoderChain;
  try {
    chain = coderChain(folder);
  } catch (e) {
    onError(e);
    return;
  }
  const range = packRange(index, streams, dataStart);
  if (range.start + range.size > source.size) {
    onError(new SevenZipError(`packed data of folder ${index} runs past the end of the file (truncated archive)`));
  }
  const input = new CompressedInput(source, 64 * 1024, range.start, Math.min(source.size, range.start + range.size));
  const guard = new DecompressionGuard(ctx, input, `7z folder ${index}`);
  const raw = chain.decode(input, guard)[Symbol.asyncIterator]();
  let wanted = folderOutputSize(folder);
  let first: IteratorResult<Uint8Array>;
  try {
    first = await raw.next();
  } catch (e) {
    onError(e);
    await raw.return?.();
    return;
  }
  const failures: unknown[] = [];
  for await (const chunk of guardedWithHandler(first, raw, guard, (e) => failures.push(e))) {
    const piece = chunk.length > wanted ? chunk.subarray(0, wanted) : chunk;
    wanted -= piece.length;
    yield piece;
    if (wanted <= 0) break;
  }
  // LZMA1 streams in 7z need no end marker: a decoder that complains only after the declared size is fine.
  if (wanted > 0 && failures.length > 0) onError(failures[0]);
  if (wanted > 0 && failures.length === 0)
    onError(new SevenZipError(`folder ${index} decodes to fewer bytes than declared`));
}

/** Absolute position and size of a folder's (single) packed stream. */
function packRange(index: number, streams: StreamsInfo, dataStart: number): { start: number; size: number } {
  let stream = 0;
  for (let f = 0; f < index; f++) stream += streams.folders[f]!.packedStreams.length;
  let start = dataStart + streams.packPos;
  for (let s = 0; s < stream; s++) start += streams.packSizes[s] ?? 0;
  return { start, size: streams.packSizes[stream] ?? 0 };
}

// ---- coders ----

interface CoderChain {
  decode(input: CompressedInput, guard: DecompressionGuard): AsyncIterable<Uint8Array>;
}

const CODER = {
  copy: "00",
  lzma2: "21",
  lzma: "030101",
  delta: "03",
  x86: "03030103",
  ppc: "03030205",
  ia64: "03030401",
  arm: "03030501",
  armt: "03030701",
  sparc: "03030805",
  deflate: "040108",
  bzip2: "040202",
  aes: "06f10701",
} as const;

const CODER_NAMES: Record<string, string> = {
  [CODER.copy]: "Copy",
  [CODER.lzma2]: "LZMA2",
  [CODER.lzma]: "LZMA",
  [CODER.delta]: "Delta",
  [CODER.x86]: "BCJ",
  [CODER.deflate]: "Deflate",
  [CODER.bzip2]: "BZip2",
  "040109": "Deflate64",
  "030401": "PPMd",
  "0303011b": "BCJ2",
  [CODER.aes]: "AES encryption",
};

/**
 * Orders the coders from the folder's output back to its packed input. Only linear chains (each coder one input,
 * one output) exist outside BCJ2; anything else is unsupported.
 */
function coderChain(folder: Folder): CoderChain {
  if (folder.packedStreams.length !== 1 || folder.coders.some((c) => c.numIn !== 1 || c.numOut !== 1))
    throw new Unsupported(`coder graph with several streams (${describeCoders(folder)})`);
  const order: Coder[] = [];
  let coder = mainOutput(folder); // with 1-in/1-out coders, stream index = coder index
  for (let steps = 0; steps < folder.coders.length; steps++) {
    order.push(folder.coders[coder]!);
    const bound = folder.bindPairs.find((p) => p.inIndex === coder);
    if (!bound) break;
    coder = bound.outIndex;
  }
  if (order.length !== folder.coders.length) throw new SevenZipError("folder coders do not form a chain");
  return chainFor(order, folderOutputSize(folder));
}

function chainFor(order: Coder[], outputSize: number): CoderChain {
  const last = order[order.length - 1]!;
  const filters = order.slice(0, -1);
  if (order.length === 1 && last.id === CODER.copy) return { decode: (input) => input.chunks() };
  if (order.length === 1 && last.id === CODER.deflate)
    return { decode: (input) => viaTransform(input.chunks(), createInflateRaw()) };
  if (order.length === 1 && last.id === CODER.bzip2) return { decode: (input, guard) => decodeBz2(input, guard) };
  if (last.id === CODER.lzma || last.id === CODER.lzma2) {
    const decodeLast = lzmaCoder(last, outputSize);
    return {
      decode: (input) => filters.reduceRight<AsyncIterable<Uint8Array>>(applyFilter, decodeLast(input.chunks())),
    };
  }
  throw new Unsupported(`coders ${describeCoders({ coders: order })}`);
}

/** Undoes one filter coder (x86 BCJ, delta) on the output of the coders after it. */
function applyFilter(data: AsyncIterable<Uint8Array>, coder: Coder): AsyncIterable<Uint8Array> {
  if (coder.id === CODER.x86) {
    if (coder.props.length > 0) throw new Unsupported("branch filter with a start offset");
    return x86Decode(data);
  }
  if (coder.id === CODER.delta) return deltaDecode(data, (coder.props[0] ?? 0) + 1);
  throw new Unsupported(`coders ${describeCoders({ coders: [coder] })}`);
}

/** LZMA/LZMA2 with its properties; the window never exceeds the output size (no match reaches further back). */
function lzmaCoder(coder: Coder, outputSize: number): (chunks: AsyncIterable<Uint8Array>) => AsyncIterable<Uint8Array> {
  if (coder.id === CODER.lzma2) {
    const p = coder.props[0];
    if (p === undefined || p > 40) throw new SevenZipError("bad LZMA2 properties");
    const dictSize = dictionarySize(lzma2DictionarySize(p), outputSize);
    return (chunks) => decodeLzma2(chunks[Symbol.asyncIterator](), new LzmaInput(), dictSize, outputSize);
  }
  if (coder.props.length < 5) throw new SevenZipError("bad LZMA properties");
  if (coder.props[0]! >= 9 * 5 * 5) throw new SevenZipError("bad LZMA properties");
  const props = decodeProperties(coder.props[0]!);
  const view = new DataView(coder.props.buffer, coder.props.byteOffset, 5);
  const dictSize = dictionarySize(view.getUint32(1, true), outputSize);
  return (chunks) => decodeLzma1(chunks[Symbol.asyncIterator](), new LzmaInput(), props, dictSize, outputSize);
}

function dictionarySize(declared: number, outputSize: number): number {
  return Math.max(4096, Math.min(declared, outputSize));
}

function describeCoders(folder: { coders: Coder[] }): string {
  return folder.coders.map((c) => CODER_NAMES[c.id] ?? `method ${c.id || "?"}`).join(" + ");
}

/** Hands out consecutive slices of a chunk stream: one `take(n)` per member, then the next. */
class ChunkCursor {
  private readonly chunks: StreamChunks;
  /** Bytes the current take has not yet handed out. */
  leftInTake = 0;

  constructor(source: AsyncIterator<Uint8Array>) {
    this.chunks = new StreamChunks({ [Symbol.asyncIterator]: () => source });
  }

  get ended(): boolean {
    return this.chunks.ended;
  }

  take(n: number): AsyncGenerator<Uint8Array> {
    this.leftInTake = n;
    return this.handOut();
  }

  private async *handOut(): AsyncGenerator<Uint8Array> {
    while (this.leftInTake > 0) {
      const chunk = await this.chunks.next(this.leftInTake);
      if (chunk.length === 0) {
        this.leftInTake = 0;
        return;
      }
      this.leftInTake -= chunk.length;
      yield chunk;
    }
  }

  async discard(n: number): Promise<void> {
    await this.chunks.skip(n);
    this.leftInTake = 0;
  }

  close(): Promise<void> {
    return this.chunks.close();
  }
}
