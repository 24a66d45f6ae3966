import { crc32 } from "node:zlib";
import { bytesAt } from "../source/bytes.js";
import { LzmaError, LzmaInput, decodeLzma1, decodeLzma2, decodeProperties, fill, lzma2DictionarySize } from "./lzma.js";

/**
 * The .xz container (xz file-format 1.2.1) and the legacy .lzma "alone" header around the decoders of lzma.ts,
 * plus the two 7z/xz filters seen in archives (x86 BCJ, delta). Every integrity field is checked: header and
 * index CRC32s, the block check (CRC32, CRC64 or SHA-256), the index against the blocks, padding and the footer,
 * so a stream that fails any of them is reported even when all its data decoded. Concatenated streams (what
 * Python's LZMAFile reads) are decoded in turn.
 */

const XZ_MAGIC = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];
const FOOTER_MAGIC = [0x59, 0x5a];
/** Blocks of one stream; xz writes one per 3 x dictionary of input (or one per thread chunk). */
const MAX_XZ_BLOCKS = 1_000_000;

const FILTER = { delta: 0x03, x86: 0x04, lzma2: 0x21 } as const;
const CHECK_SIZES: Record<number, number> = { 0: 0, 1: 4, 4: 8, 10: 32 };

/** Sequential reads over the compressed chunks, for the container's fields. */
class Fields {
  constructor(
    readonly input: LzmaInput,
    private readonly chunks: AsyncIterator<Uint8Array>,
  ) {}

  async bytes(n: number, what: string): Promise<Uint8Array> {
    if (!(await fill(this.input, n, this.chunks))) throw new LzmaError(`xz data ends inside the ${what}`);
    const out = this.input.buf.slice(this.input.pos, this.input.pos + n);
    this.input.pos += n;
    return out;
  }

  async atEnd(): Promise<boolean> {
    return !(await fill(this.input, 1, this.chunks));
  }
}

/** A variable-length integer of the xz format (7 bits a byte, at most 9 bytes). */
function vli(bytes: Uint8Array, at: { i: number }): number {
  let value = 0;
  for (let n = 0; n < 9; n++) {
    const b = bytes[at.i++];
    if (b === undefined) throw new LzmaError("xz integer runs past its field");
    value += (b & 0x7f) * 2 ** (7 * n);
    if ((b & 0x80) === 0) {
      if (b === 0 && n > 0) throw new LzmaError("xz integer is not minimally encoded");
      return value;
    }
  }
  throw new LzmaError("xz integer longer than 9 bytes");
}

const u32 = (b: Uint8Array, at: number): number => new DataView(b.buffer, b.byteOffset + at, 4).getUint32(0, true);

/** Decodes an .xz file: one or more streams, with stream padding between them. */
export async function* decodeXz(source: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const chunks = source[Symbol.asyncIterator]();
  const fields = new Fields(new LzmaInput(), chunks);
  try {
    yield* decodeXzStream(fields, chunks);
    for (;;) {
      let padding = 0;
      while (!(await fields.atEnd()) && fields.input.buf[fields.input.pos] === 0) {
        fields.input.pos++;
        padding++;
      }
      if (await fields.atEnd()) {
        if (padding % 4 !== 0) throw new LzmaError("xz stream padding is not a multiple of four bytes");
        return;
      }
      if (padding % 4 !== 0) throw new LzmaError("xz stream padding is not a multiple of four bytes");
      yield* decodeXzStream(fields, chunks);
    }
  } finally {
    await chunks.return?.();
  }
}

async function* decodeXzStream(fields: Fields, chunks: AsyncIterator<Uint8Array>): AsyncGenerator<Uint8Array> {
  const header = await fields.bytes(12, "stream header");
  if (!bytesAt(header, 0, XZ_MAGIC)) throw new LzmaError("not an xz stream (bad magic)");
  if (crc32(header.subarray(6, 8)) >>> 0 !== u32(header, 8)) throw new LzmaError("xz stream header CRC32 mismatch");
  if (header[6] !== 0 || header[7]! > 0x0f) throw new LzmaError("unsupported xz stream flags");
  const checkType = header[7]!;
  const checkSize = CHECK_SIZES[checkType];
  if (checkSize === undefined) throw new LzmaError(`unsupported xz check type ${checkType}`);
  const records: Array<{ unpadded: number; uncompressed: number }> = [];
  for (;;) {
    const first = await fields.bytes(1, "block header");
    if (first[0] === 0) break; // the index
    if (records.length >= MAX_XZ_BLOCKS) throw new LzmaError(`more than ${MAX_XZ_BLOCKS} xz blocks`);
    const block = yield* decodeBlock(fields, chunks, first[0]!, checkType, checkSize);
    records.push(block);
  }
  await checkIndexAndFooter(fields, records, header.subarray(6, 8));
}

interface BlockFilters {
  dictSize: number;
  filters: Array<{ id: number; props: Uint8Array }>;
  compressedSize?: number;
  uncompressedSize?: number;
}

async function* decodeBlock(
  fields: Fields,
  chunks: AsyncIterator<Uint8Array>,
  sizeByte: number,
  checkType: number,
  checkSize: number,
): AsyncGenerator<Uint8Array, { unpadded: number; uncompressed: number }> {
  const headerSize = (sizeByte + 1) * 4;
  const rest = await fields.bytes(headerSize - 1, "block header");
  const whole = new Uint8Array(headerSize);
  whole[0] = sizeByte;
  whole.set(rest, 1);
  if (crc32(whole.subarray(0, headerSize - 4)) >>> 0 !== u32(whole, headerSize - 4))
    throw new LzmaError("xz block header CRC32 mismatch");
  const block = parseBlockHeader(whole.subarray(0, headerSize - 4));
  const input = fields.input;
  const startPos = input.consumed;
  let hash = newCheck(checkType);
  let uncompressed = 0;
  const lzma2 = decodeLzma2(chunks, input, block.dictSize, block.uncompressedSize);
  for await (const out of applyFilters(lzma2, block.filters)) {
    uncompressed += out.length;
    if (block.uncompressedSize !== undefined && uncompressed > block.uncompressedSize)
      throw new LzmaError("xz block is larger than its header says");
    hash = hash.update(out);
    yield out;
  }
  const compressed = input.consumed - startPos;
  if (block.compressedSize !== undefined && compressed !== block.compressedSize)
    throw new LzmaError("xz block compressed size differs from its header");
  if (block.uncompressedSize !== undefined && uncompressed !== block.uncompressedSize)
    throw new LzmaError("xz block uncompressed size differs from its header");
  const padding = await fields.bytes((4 - (compressed % 4)) % 4, "block padding");
  if (padding.some((b) => b !== 0)) throw new LzmaError("xz block padding is not zero");
  const check = await fields.bytes(checkSize, "block check");
  if (!hash.matches(check)) throw new LzmaError(`xz block check (${CHECK_NAMES[checkType]}) mismatch`);
  return { unpadded: headerSize + compressed + checkSize, uncompressed };
}

function parseBlockHeader(header: Uint8Array): BlockFilters {
  const flags = header[1]!;
  if (flags & 0x3c) throw new LzmaError("unsupported xz block flags");
  const at = { i: 2 };
  const result: BlockFilters = { dictSize: 0, filters: [] };
  if (flags & 0x40) result.compressedSize = vli(header, at);
  if (flags & 0x80) result.uncompressedSize = vli(header, at);
  const count = (flags & 3) + 1;
  for (let f = 0; f < count; f++) {
    const id = vli(header, at);
    const size = vli(header, at);
    const props = header.subarray(at.i, at.i + size);
    if (props.length !== size) throw new LzmaError("xz filter properties run past the block header");
    at.i += size;
    result.filters.push({ id, props });
  }
  if (header.subarray(at.i).some((b) => b !== 0)) throw new LzmaError("xz block header padding is not zero");
  const last = result.filters.pop()!;
  if (last.id !== FILTER.lzma2 || last.props.length !== 1) throw new LzmaError(`unsupported xz filter chain`);
  result.dictSize = lzma2DictionarySize(last.props[0]!);
  return result;
}

async function checkIndexAndFooter(
  fields: Fields,
  blocks: Array<{ unpadded: number; uncompressed: number }>,
  streamFlags: Uint8Array,
): Promise<void> {
  // The index indicator (0x00) was read; the record count and records follow, then padding and a CRC32.
  const countBytes: number[] = [0];
  const readVli = async (): Promise<number> => {
    const buf: number[] = [];
    for (;;) {
      const b = (await fields.bytes(1, "index"))[0]!;
      buf.push(b);
      countBytes.push(b);
      if ((b & 0x80) === 0 || buf.length >= 9) return vli(Uint8Array.from(buf), { i: 0 });
    }
  };
  const count = await readVli();
  if (count !== blocks.length) throw new LzmaError("xz index lists a different number of blocks");
  for (const block of blocks) {
    if ((await readVli()) !== block.unpadded || (await readVli()) !== block.uncompressed)
      throw new LzmaError("xz index does not match the blocks");
  }
  const padding = await fields.bytes((4 - (countBytes.length % 4)) % 4, "index padding");
  if (padding.some((b) => b !== 0)) throw new LzmaError("xz index padding is not zero");
  const indexBytes = Uint8Array.from([...countBytes, ...padding]);
  const crc = await fields.bytes(4, "index CRC32");
  if (crc32(indexBytes) >>> 0 !== u32(crc, 0)) throw new LzmaError("xz index CRC32 mismatch");
  const footer = await fields.bytes(12, "stream footer");
  if (crc32(footer.subarray(4, 10)) >>> 0 !== u32(footer, 0)) throw new LzmaError("xz stream footer CRC32 mismatch");
  if ((u32(footer, 4) + 1) * 4 !== indexBytes.length + 4) throw new LzmaError("xz footer's index size is wrong");
  if (footer[8] !== streamFlags[0] || footer[9] !== streamFlags[1] || !bytesAt(footer, 10, FOOTER_MAGIC))
    throw new LzmaError("xz stream footer does not match the header");
}

// ---- checks ----

const CHECK_NAMES: Record<number, string> = { 0: "none", 1: "CRC32", 4: "CRC64", 10: "SHA-256" };

interface Check {
  update(bytes: Uint8Array): Check;
  matches(stored: Uint8Array): boolean;
}

function newCheck(type: number): Check {
  if (type === 1) return crc32Check(0);
  if (type === 4) return crc64Check(0n);
  if (type === 10) {
    // node:crypto loads for an xz stream that carries a SHA-256 check, not for every scan.
    const hash = process.getBuiltinModule("node:crypto").createHash("sha256");
    const check: Check = {
      update: (b) => (hash.update(b), check),
      matches: (stored) => Buffer.from(hash.digest()).equals(Buffer.from(stored)),
    };
    return check;
  }
  return { update: () => newCheck(0), matches: () => true };
}

function crc32Check(value: number): Check {
  return { update: (b) => crc32Check(crc32(b, value)), matches: (stored) => value >>> 0 === u32(stored, 0) };
}

/** CRC-64/XZ (ECMA-182 polynomial, reflected), table-driven on two 32-bit halves for speed. */
const CRC64_LO = new Uint32Array(256);
const CRC64_HI = new Uint32Array(256);
for (let n = 0; n < 256; n++) {
  let lo = n;
  let hi = 0;
  for (let k = 0; k < 8; k++) {
    const carry = lo & 1;
    lo = ((lo >>> 1) | ((hi & 1) << 31)) >>> 0;
    hi >>>= 1;
    if (carry) {
      lo = (lo ^ 0xd7870f42) >>> 0;
      hi = (hi ^ 0xc96c5795) >>> 0;
    }
  }
  CRC64_LO[n] = lo;
  CRC64_HI[n] = hi;
}

function crc64Check(initial: bigint): Check {
  let lo = Number(~initial & 0xffffffffn) >>> 0;
  let hi = Number((~initial >> 32n) & 0xffffffffn) >>> 0;
  const check: Check = {
    update(bytes) {
      for (const byte of bytes) {
        const i = (lo ^ byte) & 0xff;
        lo = ((((lo >>> 8) | (hi << 24)) >>> 0) ^ CRC64_LO[i]!) >>> 0;
        hi = ((hi >>> 8) ^ CRC64_HI[i]!) >>> 0;
      }
      return check;
    },
    matches: (stored) => ~lo >>> 0 === u32(stored, 0) && ~hi >>> 0 === u32(stored, 4),
  };
  return check;
}

// ---- filters ----

async function* applyFilters(
  data: AsyncIterable<Uint8Array>,
  filters: Array<{ id: number; props: Uint8Array }>,
): AsyncGenerator<Uint8Array> {
  let stream = data;
  // Filters are listed encoder-first: the decoder undoes the last one first.
  for (const filter of [...filters].reverse()) {
    if (filter.id === FILTER.delta && filter.props.length === 1) stream = deltaDecode(stream, filter.props[0]! + 1);
    else if (filter.id === FILTER.x86 && filter.props.length === 0) stream = x86Decode(stream);
    else throw new LzmaError(`unsupported xz filter 0x${filter.id.toString(16)}`);
  }
  yield* stream;
}

/** Delta filter: each byte is stored as its difference from the byte `distance` before it. */
export async function* deltaDecode(data: AsyncIterable<Uint8Array>, distance: number): AsyncGenerator<Uint8Array> {
  const history = new Uint8Array(256);
  let pos = 0;
  for await (const chunk of data) {
    const out = Uint8Array.from(chunk);
    for (let i = 0; i < out.length; i++) {
      out[i] = (out[i]! + history[(pos - distance) & 0xff]!) & 0xff;
      history[pos & 0xff] = out[i]!;
      pos++;
    }
    yield out;
  }
}

/**
 * x86 BCJ: CALL/JMP (E8/E9) targets were made absolute by the encoder; converts them back to relative. State
 * (the previous-byte mask) carries across chunks; the last four bytes of a chunk wait for the next one.
 */
export async function* x86Decode(data: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const state = { prevMask: 0, position: 0 };
  let carry = new Uint8Array(0);
  for await (const chunk of data) {
    const buf = new Uint8Array(carry.length + chunk.length);
    buf.set(carry);
    buf.set(chunk, carry.length);
    const done = x86Convert(buf, state);
    carry = buf.slice(done);
    yield buf.subarray(0, done);
  }
  if (carry.length > 0) yield carry;
}

const X86_ALLOWED = [true, true, true, false, true, false, false, false];
const X86_BIT = [0, 1, 2, 2, 3, 3, 3, 3];

/** Converts `buf` in place from its start; returns how many bytes are final. */
function x86Convert(buf: Uint8Array, state: { prevMask: number; position: number }): number {
  const size = buf.length;
  if (size < 5) return 0;
  let prevPos = -1;
  let i = 0;
  let prevMask = state.prevMask;
  const end = size - 5;
  for (; i <= end; i++) {
    if ((buf[i]! & 0xfe) !== 0xe8) continue;
    const gap = i - prevPos;
    prevPos = i;
    if (gap > 3) prevMask = 0;
    else {
      prevMask = (prevMask << (gap - 1)) & 7;
      if (prevMask !== 0 && (!X86_ALLOWED[prevMask] || isMsByte(buf[i + 4 - X86_BIT[prevMask]!]!))) {
        prevPos = i;
        prevMask = (prevMask << 1) | 1;
        continue;
      }
    }
    if (isMsByte(buf[i + 4]!)) {
      let src = (buf[i + 1]! | (buf[i + 2]! << 8) | (buf[i + 3]! << 16) | (buf[i + 4]! << 24)) >>> 0;
      let dest: number;
      for (;;) {
        dest = (src - (state.position + i + 5)) >>> 0;
        if (prevMask === 0) break;
        const shift = X86_BIT[prevMask]! * 8;
        const b = (dest >>> (24 - shift)) & 0xff;
        if (!isMsByte(b)) break;
        src = (dest ^ ((1 << (32 - shift)) - 1)) >>> 0;
      }
      dest &= 0x01ffffff;
      dest = (dest | (dest & 0x01000000 ? 0xff000000 : 0)) >>> 0;
      buf[i + 1] = dest & 0xff;
      buf[i + 2] = (dest >>> 8) & 0xff;
      buf[i + 3] = (dest >>> 16) & 0xff;
      buf[i + 4] = (dest >>> 24) & 0xff;
      i += 4;
    } else {
      prevMask = (prevMask << 1) | 1;
    }
  }
  const gap = i - prevPos;
  state.prevMask = gap > 3 ? 0 : (prevMask << (gap - 1)) & 7;
  state.position += i;
  return i;
}

const isMsByte = (b: number): boolean => b === 0 || b === 0xff;

// ---- the .lzma "alone" format ----

/** The 13-byte header of the legacy .lzma format: properties, dictionary size, uncompressed size (or all ones). */
export async function* decodeLzmaAlone(source: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const chunks = source[Symbol.asyncIterator]();
  const input = new LzmaInput();
  try {
    if (!(await fill(input, 13, chunks))) throw new LzmaError("lzma data ends inside its header");
    const header = input.buf.subarray(input.pos, input.pos + 13);
    const props = decodeProperties(header[0]!);
    const dictSize = Math.max(4096, u32(header, 1));
    const low = u32(header, 5);
    const high = u32(header, 9);
    const size = low === 0xffffffff && high === 0xffffffff ? undefined : high * 2 ** 32 + low;
    input.pos += 13;
    yield* decodeLzma1(chunks, input, props, dictSize, size);
  } finally {
    await chunks.return?.();
  }
}
