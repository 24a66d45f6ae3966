import { ByteReader, SourceWindow } from "../source/byte-reader.js";
import type { ByteSource } from "../source/byte-source.js";
import { Xxh32, xxh32 } from "./xxh32.js";

/**
 * A streaming decoder of the LZ4 frame format (what `lz4.frame` and joblib's `compress='lz4'` write). Written here
 * because lz4js returns wrong bytes when block checksums are on; this one skips checksums instead of trusting
 * their absence, and yields each decoded block as soon as it is complete.
 *
 * Checksums are verified as liblz4 does (the header checksum always, block and content checksums when the frame
 * has them): a mismatch throws after the bytes decoded so far were handed on, since the loader has unpickled them
 * by the time it reaches the check; the caller reports compression.corrupt.
 */

export class Lz4Error extends Error {}

const FRAME_MAGIC = 0x184d2204;
const SKIPPABLE_MAGIC_MASK = 0xfffffff0;
const SKIPPABLE_MAGIC = 0x184d2a50;
/** Matches reach at most this far back, into earlier blocks when blocks are linked. */
const WINDOW = 64 * 1024;
const BLOCK_MAX_SIZES: Record<number, number> = { 4: 64 * 1024, 5: 256 * 1024, 6: 1024 * 1024, 7: 4 * 1024 * 1024 };
/** Copies shorter than this are done byte by byte: cheaper than creating a subarray view. */
const SHORT_COPY = 32;
/** Frames in one stream; concatenated frames are legal but thousands of them are not a model. */
const MAX_FRAMES = 100_000;

export function isLz4Frame(head: Uint8Array): boolean {
  return head.length >= 7 && head[0] === 0x04 && head[1] === 0x22 && head[2] === 0x4d && head[3] === 0x18;
}

interface FrameDescriptor {
  blockMaxSize: number;
  independent: boolean;
  blockChecksum: boolean;
  contentChecksum: boolean;
}

/**
 * Decoded blocks of every frame in `source`, in order. Throws Lz4Error on malformed or truncated input.
 * `progress.consumed` follows the compressed bytes read, for the caller's compression-ratio check.
 */
export async function* decodeLz4Frames(
  source: ByteSource,
  progress: { consumed: number } = { consumed: 0 },
): AsyncGenerator<Uint8Array> {
  const reader = new ByteReader(new SourceWindow(source));
  for (let frames = 0; !(await reader.atEnd()); frames++) {
    progress.consumed = reader.offset;
    if (frames >= MAX_FRAMES) throw new Lz4Error(`more than ${MAX_FRAMES} frames`);
    const magic = await readU32(reader, "frame magic");
    if ((magic & SKIPPABLE_MAGIC_MASK) >>> 0 === SKIPPABLE_MAGIC) {
      const size = await readU32(reader, "skippable frame size");
      if ((await reader.skip(size)) < size) throw new Lz4Error("truncated skippable frame");
      continue;
    }
    if (magic !== FRAME_MAGIC) {
      // lz4.frame stops at the first frame; bytes after it are not decoded by anyone.
      if (frames > 0) return;
      throw new Lz4Error(`bad frame magic 0x${magic.toString(16)}`);
    }
    for await (const block of decodeFrame(reader, await readDescriptor(reader))) {
      progress.consumed = reader.offset;
      yield block;
    }
  }
}

async function readDescriptor(reader: ByteReader): Promise<FrameDescriptor> {
  await need(reader, 2, "frame descriptor");
  const flags = reader.u8();
  const bd = reader.u8();
  const descriptor = [flags, bd];
  if (flags >> 6 !== 1) throw new Lz4Error(`unsupported frame version ${flags >> 6}`);
  if ((flags & 0x02) !== 0 || (bd & 0x8f) !== 0) throw new Lz4Error("reserved bits set in the frame descriptor");
  const blockMaxSize = BLOCK_MAX_SIZES[(bd >> 4) & 0x07];
  if (blockMaxSize === undefined) throw new Lz4Error(`invalid block maximum size code ${(bd >> 4) & 0x07}`);
  if ((flags & 0x01) !== 0) throw new Lz4Error("frame needs an external dictionary");
  const contentSize = (flags & 0x08) !== 0;
  // Optional content size (8 bytes), then the header checksum: the second byte of XXH32 over the descriptor.
  const rest = (contentSize ? 8 : 0) + 1;
  await need(reader, rest, "frame descriptor");
  for (let i = 0; i < rest - 1; i++) descriptor.push(reader.u8());
  const stored = reader.u8();
  const expected = (xxh32(Uint8Array.from(descriptor)) >>> 8) & 0xff;
  if (stored !== expected)
    throw new Lz4Error(`frame header checksum mismatch (0x${hex(stored)}, expected 0x${hex(expected)})`);
  return {
    blockMaxSize,
    independent: (flags & 0x20) !== 0,
    blockChecksum: (flags & 0x10) !== 0,
    contentChecksum: (flags & 0x04) !== 0,
  };
}

async function* decodeFrame(reader: ByteReader, frame: FrameDescriptor): AsyncGenerator<Uint8Array> {
  // One buffer for the whole frame: the last WINDOW bytes of history followed by the block being decoded.
  const out = new Uint8Array(WINDOW + frame.blockMaxSize);
  let history = 0;
  const content = frame.contentChecksum ? new Xxh32() : undefined;
  for (;;) {
    const word = await readU32(reader, "block size");
    if (word === 0) break; // EndMark
    const stored = (word & 0x80000000) !== 0;
    const size = word & 0x7fffffff;
    if (size > frame.blockMaxSize)
      throw new Lz4Error(`block of ${size} bytes exceeds the frame's ${frame.blockMaxSize}`);
    await need(reader, size, "block");
    const input = reader.take(size);
    const start = WINDOW; // linked blocks find their history just before the block
    let end: number;
    if (stored) {
      out.set(input, start);
      end = start + size;
    } else {
      end = decodeBlock(input, out, start, frame.independent ? start : start - history);
    }
    const actual = frame.blockChecksum ? xxh32(input) : 0; // `input` is valid only until the reader fills again
    const block = out.slice(start, end);
    content?.update(block);
    // Handed on before its checksum is compared: liblz4 delivers a stored block before checking it, and reading a
    // superset of what the loader accepts is the safe direction.
    yield block;
    if (frame.blockChecksum) {
      const stored = await readU32(reader, "block checksum");
      if (stored !== actual)
        throw new Lz4Error(`block checksum mismatch (0x${hex(stored)}, expected 0x${hex(actual)})`);
    }
    history = frame.independent ? 0 : Math.min(WINDOW, history + (end - start));
    if (!frame.independent) out.copyWithin(WINDOW - history, end - history, end);
  }
  if (content) {
    const stored = await readU32(reader, "content checksum");
    const expected = content.digest();
    if (stored !== expected)
      throw new Lz4Error(`content checksum mismatch (0x${hex(stored)}, expected 0x${hex(expected)})`);
  }
}

const hex = (n: number): string => n.toString(16).padStart(2, "0");

/**
 * Decodes one compressed block into `out` from `start`; matches may reach back to `floor`. Returns the end of the
 * decoded bytes. Every length is checked against the input and the output space, so hostile blocks throw.
 */
export function decodeBlock(input: Uint8Array, out: Uint8Array, start: number, floor: number): number {
  let ip = 0;
  let op = start;
  const inEnd = input.length;
  const outEnd = out.length;
  while (ip < inEnd) {
    const token = input[ip++]!;
    let literals = token >> 4;
    if (literals === 15) {
      let b: number;
      do {
        if (ip >= inEnd) throw new Lz4Error("truncated literal length");
        b = input[ip++]!;
        literals += b;
      } while (b === 255);
    }
    if (ip + literals > inEnd) throw new Lz4Error("literals run past the block");
    if (op + literals > outEnd) throw new Lz4Error("block decodes to more than its maximum size");
    if (literals < SHORT_COPY) {
      for (let i = 0; i < literals; i++) out[op + i] = input[ip + i]!;
    } else {
      out.set(input.subarray(ip, ip + literals), op);
    }
    ip += literals;
    op += literals;
    if (ip === inEnd) break; // the last sequence has literals only
    if (ip + 2 > inEnd) throw new Lz4Error("truncated match offset");
    const offset = input[ip]! | (input[ip + 1]! << 8);
    ip += 2;
    if (offset === 0 || op - offset < floor) throw new Lz4Error(`match offset ${offset} outside the window`);
    let length = (token & 0x0f) + 4;
    if ((token & 0x0f) === 15) {
      let b: number;
      do {
        if (ip >= inEnd) throw new Lz4Error("truncated match length");
        b = input[ip++]!;
        length += b;
      } while (b === 255);
    }
    if (op + length > outEnd) throw new Lz4Error("block decodes to more than its maximum size");
    copyMatch(out, op, offset, length);
    op += length;
  }
  return op;
}

/** Copies a match; an offset shorter than the length repeats the bytes just written (run-length style). */
function copyMatch(out: Uint8Array, op: number, offset: number, length: number): void {
  const from = op - offset;
  if (offset >= length && length >= SHORT_COPY) {
    out.copyWithin(op, from, from + length);
    return;
  }
  for (let i = 0; i < length; i++) out[op + i] = out[from + i]!;
}

async function readU32(reader: ByteReader, what: string): Promise<number> {
  await need(reader, 4, what);
  return reader.u32();
}

async function need(reader: ByteReader, n: number, what: string): Promise<void> {
  if (reader.available < n && (await reader.fill(n)) < n) throw new Lz4Error(`stream ends inside the ${what}`);
}
