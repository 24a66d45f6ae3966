/**
 * LZMA and LZMA2 decoding in TypeScript, streaming in and out with bounded memory.
 *
 * Why not a library: the maintained pure-JS/WASM decoders on npm either decode a whole buffer at once (lzma1,
 * LZMA-JS: no output cap, so a bomb is allocated before it can be refused) or read only the .xz container
 * (xz-decompress: no "alone" format, which joblib writes for compress='lzma', and no raw LZMA for 7z folders).
 * The native liblzma binding needs a compiled addon. This decoder follows the LZMA specification (lzma-specification
 * in the LZMA SDK, the xz file-format description): a range coder, a sliding window whose size is the declared
 * dictionary capped at a limit, and output handed out in chunks so the caller can stop it at any byte count.
 */

/** Largest dictionary accepted: xz -9 and 7z -mx9 use 64 MiB; more is not a model file's compression. */
export const MAX_LZMA_DICT_BYTES = 128 * 1024 * 1024;
/** A window starts this small and doubles up to the dictionary size, so small streams cost little memory. */
const FIRST_WINDOW_BYTES = 64 * 1024;
/** Input one LZMA symbol can consume at most (a match reads ~50 range-coder bits); decoding waits for this much. */
const SYMBOL_INPUT_MARGIN = 64;

export class LzmaError extends Error {}

/** A stream that needs more than a limit of this decoder allows (a match further back than the window kept). */
export class LzmaLimit extends LzmaError {}

/** The sliding window: the last `dictSize` bytes of output, plus what has not been handed out yet. */
export class OutWindow {
  private buf: Uint8Array;
  private pos = 0;
  private flushed = 0;
  private full = false;
  /** Bytes produced since the window was created (or last reset). */
  total = 0;
  private ready: Uint8Array[] = [];

  /** The window kept: the dictionary, but at most MAX_LZMA_DICT_BYTES. */
  private readonly capacity: number;

  constructor(private readonly dictSize: number) {
    this.capacity = Math.min(Math.max(dictSize, 4096), MAX_LZMA_DICT_BYTES);
    this.buf = new Uint8Array(Math.min(this.capacity, FIRST_WINDOW_BYTES));
  }

  /** A new dictionary (LZMA2 dictionary reset): earlier bytes can no longer be referenced. */
  reset(): void {
    this.drain();
    this.total = 0;
    this.full = false;
  }

  put(byte: number): void {
    if (this.pos === this.buf.length) this.wrapOrGrow();
    this.buf[this.pos++] = byte;
    this.total++;
  }

  /** The byte `distance` bytes back (1 = the last one). */
  get(distance: number): number {
    let i = this.pos - distance;
    if (i < 0) i += this.buf.length;
    return this.buf[i]!;
  }

  /**
   * Whether a match may reach `distance` bytes back. A declared dictionary larger than the window kept is
   * accepted until a match actually reaches past the window; that match is a limit, not corruption.
   */
  reaches(distance: number): boolean {
    if (distance > Math.min(this.total, this.dictSize)) return false;
    if (distance > this.capacity)
      throw new LzmaLimit(
        `LZMA match ${distance} bytes back is beyond MAX_LZMA_DICT_BYTES (${MAX_LZMA_DICT_BYTES} bytes of window)`,
      );
    return true;
  }

  copy(distance: number, length: number): void {
    for (let n = 0; n < length; n++) this.put(this.get(distance));
  }

  /** Output not yet handed out, in order; the window keeps its content for later matches. */
  take(): Uint8Array[] {
    this.drain();
    const out = this.ready;
    this.ready = [];
    return out;
  }

  private drain(): void {
    if (this.pos > this.flushed) this.ready.push(this.buf.slice(this.flushed, this.pos));
    this.flushed = this.pos;
  }

  private wrapOrGrow(): void {
    if (this.buf.length < this.capacity && !this.full) {
      const bigger = new Uint8Array(Math.min(this.capacity, this.buf.length * 2));
      bigger.set(this.buf);
      this.buf = bigger;
      return;
    }
    this.drain();
    this.pos = 0;
    this.flushed = 0;
    this.full = true;
  }
}

/** Input of the range coder: a buffer that the driver refills; `final` means no more bytes will come. */
export class LzmaInput {
  buf = new Uint8Array(0);
  pos = 0;
  final = false;
  /** Bytes consumed and dropped from the buffer by earlier appends. */
  private dropped = 0;

  /** Bytes consumed since the start of the input. */
  get consumed(): number {
    return this.dropped + this.pos;
  }

  get available(): number {
    return this.buf.length - this.pos;
  }

  append(chunk: Uint8Array): void {
    const rest = this.buf.subarray(this.pos);
    const next = new Uint8Array(rest.length + chunk.length);
    next.set(rest);
    next.set(chunk, rest.length);
    this.buf = next;
    this.dropped += this.pos;
    this.pos = 0;
  }

  byte(): number {
    if (this.pos >= this.buf.length) throw new LzmaError("compressed data ends early");
    return this.buf[this.pos++]!;
  }
}

const NUM_STATES = 12;
const PROB_INIT = 1024;
const LEN_PROBS = 2 + 2 * 16 * 8 + 256;

class RangeDecoder {
  range = 0xffffffff;
  code = 0;

  constructor(private readonly input: LzmaInput) {}

  init(): void {
    if (this.input.byte() !== 0) throw new LzmaError("range coder does not start with a zero byte");
    this.range = 0xffffffff;
    this.code = 0;
    for (let i = 0; i < 4; i++) this.code = ((this.code << 8) | this.input.byte()) >>> 0;
    if (this.code === this.range) throw new LzmaError("corrupt range coder start");
  }

  get finishedCleanly(): boolean {
    return this.code === 0;
  }

  private normalize(): void {
    if (this.range < 0x1000000) {
      this.range = (this.range << 8) >>> 0;
      this.code = ((this.code << 8) | this.input.byte()) >>> 0;
    }
  }

  bit(probs: Uint16Array, i: number): number {
    const p = probs[i]!;
    const bound = (this.range >>> 11) * p;
    let bit: number;
    if (this.code < bound) {
      this.range = bound;
      probs[i] = p + ((2048 - p) >>> 5);
      bit = 0;
    } else {
      this.range -= bound;
      this.code -= bound;
      probs[i] = p - (p >>> 5);
      bit = 1;
    }
    this.normalize();
    return bit;
  }

  direct(count: number): number {
    let result = 0;
    for (let i = 0; i < count; i++) {
      this.range >>>= 1;
      let bit = 0;
      if (this.code >= this.range) {
        this.code -= this.range;
        bit = 1;
      }
      result = ((result << 1) | bit) >>> 0;
      this.normalize();
    }
    return result;
  }

  tree(probs: Uint16Array, base: number, bits: number): number {
    let m = 1;
    for (let i = 0; i < bits; i++) m = (m << 1) | this.bit(probs, base + m);
    return m - (1 << bits);
  }

  reverseTree(probs: Uint16Array, base: number, bits: number): number {
    let m = 1;
    let symbol = 0;
    for (let i = 0; i < bits; i++) {
      const bit = this.bit(probs, base + m);
      m = (m << 1) | bit;
      symbol |= bit << i;
    }
    return symbol;
  }
}

export interface LzmaProperties {
  lc: number;
  lp: number;
  pb: number;
}

/** lc/lp/pb from the properties byte ((pb * 5 + lp) * 9 + lc). */
export function decodeProperties(byte: number): LzmaProperties {
  if (byte >= 9 * 5 * 5) throw new LzmaError(`bad LZMA properties byte ${byte}`);
  return { lc: byte % 9, lp: Math.floor(byte / 9) % 5, pb: Math.floor(byte / 45) };
}

/** One LZMA decoder state: probabilities, state and the four most recent distances. */
export class LzmaDecoder {
  private readonly rc: RangeDecoder;
  private props: LzmaProperties = { lc: 3, lp: 0, pb: 2 };
  private literal = new Uint16Array(0x300 << 3);
  private readonly isMatch = new Uint16Array(NUM_STATES << 4);
  private readonly isRep = new Uint16Array(NUM_STATES);
  private readonly isRepG0 = new Uint16Array(NUM_STATES);
  private readonly isRepG1 = new Uint16Array(NUM_STATES);
  private readonly isRepG2 = new Uint16Array(NUM_STATES);
  private readonly isRep0Long = new Uint16Array(NUM_STATES << 4);
  private readonly posSlot = new Uint16Array(4 << 6);
  private readonly posSpecial = new Uint16Array(115);
  private readonly align = new Uint16Array(16);
  private readonly lenProbs = new Uint16Array(LEN_PROBS);
  private readonly repLenProbs = new Uint16Array(LEN_PROBS);
  private state = 0;
  private reps = [0, 0, 0, 0];
  /** Set when the end-of-payload marker was decoded. */
  ended = false;

  constructor(
    readonly input: LzmaInput,
    readonly window: OutWindow,
  ) {
    this.rc = new RangeDecoder(input);
  }

  setProperties(props: LzmaProperties): void {
    if (props.lc + props.lp > 12) throw new LzmaError("LZMA lc + lp over 12");
    this.props = props;
    this.literal = new Uint16Array(0x300 << (props.lc + props.lp));
  }

  /** Resets probabilities, state and distances (a new stream, or an LZMA2 state reset). */
  resetState(): void {
    for (const probs of [
      this.literal,
      this.isMatch,
      this.isRep,
      this.isRepG0,
      this.isRepG1,
      this.isRepG2,
      this.isRep0Long,
      this.posSlot,
      this.posSpecial,
      this.align,
      this.lenProbs,
      this.repLenProbs,
    ])
      probs.fill(PROB_INIT);
    this.state = 0;
    this.reps = [0, 0, 0, 0];
    this.ended = false;
  }

  startRangeCoder(): void {
    this.rc.init();
  }

  get rangeCoderClean(): boolean {
    return this.rc.finishedCleanly;
  }

  /**
   * Decodes symbols until at least `outLimit` more bytes exist, the end marker, or (unless the input is final) the
   * input buffer runs low. `end` is the output position no match may cross (an LZMA2 chunk's or a declared size).
   */
  decode(outLimit: number, end: number): void {
    const w = this.window;
    const stopAt = w.total + outLimit;
    const input = this.input;
    while (w.total < stopAt && w.total < end && !this.ended) {
      if (!input.final && input.available < SYMBOL_INPUT_MARGIN) return;
      this.step(end - w.total);
    }
  }

  private step(room: number): void {
    const rc = this.rc;
    const w = this.window;
    const posState = w.total & ((1 << this.props.pb) - 1);
    const s = this.state;
    if (rc.bit(this.isMatch, (s << 4) + posState) === 0) return this.decodeLiteral();
    let length: number;
    if (rc.bit(this.isRep, s) === 0) {
      length = this.decodeLength(this.lenProbs, posState);
      this.state = s < 7 ? 7 : 10;
      const distance = this.decodeDistance(length);
      if (distance === 0xffffffff) {
        this.ended = true;
        return;
      }
      this.reps = [distance, this.reps[0]!, this.reps[1]!, this.reps[2]!];
    } else {
      if (w.total === 0) throw new LzmaError("repeated match before any output");
      if (rc.bit(this.isRepG0, s) === 0) {
        if (rc.bit(this.isRep0Long, (s << 4) + posState) === 0) {
          this.state = s < 7 ? 9 : 11;
          w.put(w.get(this.reps[0]! + 1));
          return;
        }
      } else {
        let distance: number;
        if (rc.bit(this.isRepG1, s) === 0) {
          distance = this.reps[1]!;
        } else {
          if (rc.bit(this.isRepG2, s) === 0) {
            distance = this.reps[2]!;
          } else {
            distance = this.reps[3]!;
            this.reps[3] = this.reps[2]!;
          }
          this.reps[2] = this.reps[1]!;
        }
        this.reps[1] = this.reps[0]!;
        this.reps[0] = distance;
      }
      length = this.decodeLength(this.repLenProbs, posState);
      this.state = s < 7 ? 8 : 11;
    }
    const distance = this.reps[0]! + 1;
    if (!w.reaches(distance)) throw new LzmaError(`match distance ${distance} reaches before the data`);
    const count = length + 2;
    if (count > room) throw new LzmaError("match runs past the declared size");
    w.copy(distance, count);
  }

  private decodeLiteral(): void {
    const rc = this.rc;
    const w = this.window;
    const { lc, lp } = this.props;
    const prev = w.total > 0 ? w.get(1) : 0;
    const base = 0x300 * (((w.total & ((1 << lp) - 1)) << lc) + (prev >>> (8 - lc)));
    let symbol = 1;
    if (this.state >= 7) {
      let matchByte = w.get(this.reps[0]! + 1);
      do {
        const matchBit = (matchByte >>> 7) & 1;
        matchByte <<= 1;
        const bit = rc.bit(this.literal, base + ((1 + matchBit) << 8) + symbol);
        symbol = (symbol << 1) | bit;
        if (matchBit !== bit) break;
      } while (symbol < 0x100);
    }
    while (symbol < 0x100) symbol = (symbol << 1) | rc.bit(this.literal, base + symbol);
    w.put(symbol & 0xff);
    this.state = this.state < 4 ? 0 : this.state < 10 ? this.state - 3 : this.state - 6;
  }

  /** Match length minus 2: low (0–7), mid (8–15) or high (16–271) coder. */
  private decodeLength(probs: Uint16Array, posState: number): number {
    const rc = this.rc;
    if (rc.bit(probs, 0) === 0) return rc.tree(probs, 2 + (posState << 3), 3);
    if (rc.bit(probs, 1) === 0) return 8 + rc.tree(probs, 2 + 128 + (posState << 3), 3);
    return 16 + rc.tree(probs, 2 + 256, 8);
  }

  private decodeDistance(length: number): number {
    const rc = this.rc;
    const lenState = Math.min(length, 3);
    const slot = rc.tree(this.posSlot, lenState << 6, 6);
    if (slot < 4) return slot;
    const directBits = (slot >>> 1) - 1;
    let distance = ((2 | (slot & 1)) << directBits) >>> 0;
    if (slot < 14) return (distance + rc.reverseTree(this.posSpecial, distance - slot - 1, directBits)) >>> 0;
    distance = (distance + ((rc.direct(directBits - 4) << 4) >>> 0)) >>> 0;
    return (distance + rc.reverseTree(this.align, -1, 4)) >>> 0;
  }
}

/** Dictionary size from an LZMA2 properties byte (0–40). */
export function lzma2DictionarySize(byte: number): number {
  if (byte > 40) throw new LzmaError(`bad LZMA2 dictionary byte ${byte}`);
  return byte === 40 ? 0xffffffff : (2 | (byte & 1)) * 2 ** (Math.floor(byte / 2) + 11);
}

/** Reads exactly `n` more bytes into `input` from `chunks` (or as many as remain); false at the end. */
export async function fill(input: LzmaInput, n: number, chunks: AsyncIterator<Uint8Array>): Promise<boolean> {
  while (input.available < n && !input.final) {
    const step = await chunks.next();
    if (step.done) input.final = true;
    else input.append(step.value);
  }
  return input.available >= n;
}

/** Output handed out at a time. */
const OUTPUT_STEP = 256 * 1024;

/**
 * A raw LZMA1 stream (7z's LZMA coder, the payload of the .lzma "alone" format). `size` is the uncompressed size
 * when known (decoding stops there; an end marker may also close it), undefined when the end marker is required.
 */
export async function* decodeLzma1(
  chunks: AsyncIterator<Uint8Array>,
  input: LzmaInput,
  props: LzmaProperties,
  dictSize: number,
  size: number | undefined,
): AsyncGenerator<Uint8Array> {
  const window = new OutWindow(Math.max(4096, size === undefined ? dictSize : Math.min(dictSize, size)));
  const decoder = new LzmaDecoder(input, window);
  decoder.setProperties(props);
  decoder.resetState();
  await fill(input, 5, chunks);
  decoder.startRangeCoder();
  for (;;) {
    await fill(input, SYMBOL_INPUT_MARGIN, chunks);
    decoder.decode(OUTPUT_STEP, size ?? Infinity);
    yield* window.take();
    if (decoder.ended) {
      if (size !== undefined && window.total !== size) throw new LzmaError("end marker before the declared size");
      break;
    }
    if (size !== undefined && window.total === size) break;
  }
  if (!decoder.rangeCoderClean) throw new LzmaError("range coder did not end cleanly (corrupt data)");
}

/** An LZMA2 stream: chunks of LZMA or stored data, ending with a 0x00 control byte. */
export async function* decodeLzma2(
  chunks: AsyncIterator<Uint8Array>,
  input: LzmaInput,
  dictSize: number,
  sizeHint?: number,
): AsyncGenerator<Uint8Array> {
  const window = new OutWindow(Math.max(4096, sizeHint === undefined ? dictSize : Math.min(dictSize, sizeHint)));
  const decoder = new LzmaDecoder(input, window);
  let needDictReset = true;
  let needProps = true;
  for (;;) {
    if (!(await fill(input, 1, chunks))) throw new LzmaError("LZMA2 data ends before its end marker");
    const control = input.byte();
    if (control === 0x00) return;
    if (control === 0x01 || control === 0x02) {
      if (control === 0x01) {
        window.reset();
        needDictReset = false;
      } else if (needDictReset) throw new LzmaError("LZMA2 stream does not start with a dictionary reset");
      if (!(await fill(input, 2, chunks))) throw new LzmaError("LZMA2 data ends early");
      const size = ((input.byte() << 8) | input.byte()) + 1;
      if (!(await fill(input, size, chunks))) throw new LzmaError("LZMA2 data ends early");
      for (let i = 0; i < size; i++) window.put(input.byte());
      yield* window.take();
      continue;
    }
    if (control < 0x80) throw new LzmaError(`bad LZMA2 control byte 0x${control.toString(16)}`);
    const reset = (control >>> 5) & 3;
    if (!(await fill(input, 4, chunks))) throw new LzmaError("LZMA2 data ends early");
    const unpacked = ((control & 0x1f) << 16) + ((input.byte() << 8) | input.byte()) + 1;
    const packed = ((input.byte() << 8) | input.byte()) + 1;
    if (reset === 3) {
      window.reset();
      needDictReset = false;
    } else if (needDictReset) throw new LzmaError("LZMA2 stream does not start with a dictionary reset");
    if (reset >= 2) {
      if (!(await fill(input, 1, chunks))) throw new LzmaError("LZMA2 data ends early");
      decoder.setProperties(decodeProperties(input.byte()));
      needProps = false;
    } else if (needProps) throw new LzmaError("LZMA2 chunk without properties");
    if (reset >= 1) decoder.resetState();
    yield* decodeLzma2Chunk(chunks, input, decoder, unpacked, packed);
  }
}

/** One LZMA chunk of an LZMA2 stream: exactly `packed` input bytes make exactly `unpacked` output bytes. */
async function* decodeLzma2Chunk(
  chunks: AsyncIterator<Uint8Array>,
  input: LzmaInput,
  decoder: LzmaDecoder,
  unpacked: number,
  packed: number,
): AsyncGenerator<Uint8Array> {
  if (!(await fill(input, packed, chunks))) throw new LzmaError("LZMA2 data ends early");
  // The chunk alone, as a final input: the range coder must not read into the next chunk.
  const chunkInput = decoder.input;
  const end = chunkInput.pos + packed;
  const outer = chunkInput.final;
  const saved = chunkInput.buf;
  chunkInput.buf = saved.subarray(0, end);
  chunkInput.final = true;
  try {
    decoder.ended = false;
    decoder.startRangeCoder();
    const target = decoder.window.total + unpacked;
    while (decoder.window.total < target) {
      decoder.decode(OUTPUT_STEP, target);
      yield* decoder.window.take();
      if (decoder.ended) throw new LzmaError("end marker inside an LZMA2 chunk");
    }
    if (chunkInput.pos !== end || !decoder.rangeCoderClean)
      throw new LzmaError("LZMA2 chunk does not end where its header says (corrupt data)");
  } finally {
    chunkInput.buf = saved;
    chunkInput.final = outer;
  }
}
