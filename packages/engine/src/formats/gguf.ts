import { ByteReader, SourceWindow } from "../source/byte-reader.js";
import type { ByteSource } from "../source/byte-source.js";
import type { FormatContext, FormatHandler, Probe } from "./types.js";
import { MAX_TEMPLATE_CHARS, reportTemplate } from "./jinja.js";
import { reportEmbeddedTemplate } from "./template-content.js";

/**
 * GGUF (llama.cpp) v1–v3: magic `GGUF`, u32 version, tensor count, KV count, then typed key/value pairs, tensor
 * infos and tensor data. Only the KV section can carry code: the Jinja chat templates (`tokenizer.chat_template`,
 * `tokenizer.chat_template.<name>`), which llama-cpp-python rendered unsandboxed (CVE-2024-34359).
 *
 * Why an own reader rather than `@huggingface/gguf@0.4.6`: that library fetches in 2 MB chunks (a 300-byte header
 * costs 2 MB, and it holds the whole KV section in a growing buffer), materialises every value including 150k-token
 * vocabularies, and trusts counts and lengths. This reader walks the KV section forward over our ByteSource
 * (so local and Hub sources share the code), seeks past every value it does not need (numeric arrays in one jump,
 * strings by their length prefix), decodes only chat templates, and checks every count and length against the
 * bytes left before it loops or allocates. Tensor infos and data are never read.
 */

const MAGIC = [0x47, 0x47, 0x55, 0x46]; // "GGUF"
/** Real models have tens of KV pairs; llama.cpp itself has no cap, so the real bound is the file size. */
const MAX_KV = 1_000_000;
/** The spec limits keys to 65535 bytes. */
const MAX_KEY_BYTES = 65_535;
/** Nesting of arrays inside arrays (the spec allows it; no writer uses more than one level). */
const MAX_ARRAY_DEPTH = 4;
/** How often (in values) the deadline is checked while skipping a vocabulary. */
const DEADLINE_EVERY = 1 << 16;

/** GGUF value types. */
const T = {
  U8: 0,
  I8: 1,
  U16: 2,
  I16: 3,
  U32: 4,
  I32: 5,
  F32: 6,
  BOOL: 7,
  STRING: 8,
  ARRAY: 9,
  U64: 10,
  I64: 11,
  F64: 12,
} as const;

const FIXED_SIZE: Record<number, number> = {
  [T.U8]: 1,
  [T.I8]: 1,
  [T.BOOL]: 1,
  [T.U16]: 2,
  [T.I16]: 2,
  [T.U32]: 4,
  [T.I32]: 4,
  [T.F32]: 4,
  [T.U64]: 8,
  [T.I64]: 8,
  [T.F64]: 8,
};

export const ggufFormat: FormatHandler = {
  name: "gguf",
  exclusive: true,
  sniff: (probe: Probe) => MAGIC.every((b, i) => probe.head[i] === b),
  async inspect(source: ByteSource, ctx: FormatContext): Promise<boolean> {
    try {
      await new GgufWalker(source, ctx).walk();
    } catch (e) {
      if (!(e instanceof GgufError)) throw e;
      ctx.indicate("gguf.malformed", e.message, e.offset);
    }
    return true;
  },
};

class GgufError extends Error {
  constructor(
    message: string,
    readonly offset?: number,
  ) {
    super(message);
  }
}

/** A chat template key: `tokenizer.chat_template`, `tokenizer.chat_template.tool_use`, `tokenizer.chat_templates`. */
export function isTemplateKey(key: string): boolean {
  return /(^|\.)chat_templates?(\.|$)/.test(key);
}

class GgufWalker {
  private readonly reader: ByteReader;
  /** v1 stores string lengths and counts as u32, v2+ as u64. */
  private wide = true;
  private values = 0;

  constructor(
    private readonly source: ByteSource,
    private readonly ctx: FormatContext,
  ) {
    this.reader = new ByteReader(new SourceWindow(source));
  }

  async walk(): Promise<void> {
    await this.need(8, "header");
    await this.reader.skip(4); // magic, checked by the sniffer
    const version = this.reader.u32();
    if (version < 1 || version > 3) {
      const hint = version > 0xffff ? " (big-endian file?)" : "";
      throw new GgufError(`unsupported GGUF version ${version}${hint}`, 4);
    }
    this.wide = version >= 2;
    const tensorCount = await this.count("tensor count");
    const kvCount = await this.count("KV count");
    this.checkCounts(tensorCount, kvCount);
    for (let i = 0; i < kvCount; i++) await this.keyValue(i);
  }

  /** Counts must fit the file: each tensor info takes ≥ 24 bytes (v1: 16), each KV pair ≥ 13 bytes. */
  private checkCounts(tensorCount: number, kvCount: number): void {
    const left = this.left();
    if (kvCount > MAX_KV || kvCount * (this.wide ? 13 : 9) > left)
      throw new GgufError(
        `KV count ${kvCount} cannot fit in the ${left} bytes left (limit ${MAX_KV})`,
        this.wide ? 16 : 12,
      );
    if (tensorCount * (this.wide ? 24 : 16) > left)
      throw new GgufError(`tensor count ${tensorCount} cannot fit in the ${left} bytes left`, 8);
  }

  private async keyValue(index: number): Promise<void> {
    const at = this.reader.offset;
    const keyLength = await this.count(`key length of KV ${index}`);
    if (keyLength > MAX_KEY_BYTES)
      throw new GgufError(`key of KV ${index} is ${keyLength} bytes (limit ${MAX_KEY_BYTES})`, at);
    const key = await this.text(keyLength, `key of KV ${index}`);
    await this.need(4, `type of ${key}`);
    const type = this.reader.u32();
    if (isTemplateKey(key)) await this.templateValue(key, type);
    else if (type === T.STRING) await this.stringValue(key);
    else await this.skipValue(type, key, 0);
  }

  /** A template string is analysed; an array of them (or of template names) has each string analysed. */
  private async templateValue(key: string, type: number): Promise<void> {
    if (type === T.STRING) return this.template(key);
    if (type !== T.ARRAY) return this.skipValue(type, key, 0);
    await this.need(4, `array type of ${key}`);
    const itemType = this.reader.u32();
    const count = await this.count(`array length of ${key}`);
    if (itemType !== T.STRING) return this.skipItems(itemType, count, key, 1);
    this.checkFits(count * (this.wide ? 8 : 4), `${count} strings of ${key}`);
    for (let i = 0; i < count; i++) await this.template(`${key}[${i}]`);
  }

  private async template(label: string): Promise<void> {
    const at = this.reader.offset;
    const length = await this.count(`length of ${label}`);
    this.checkFits(length, label);
    // Bytes beyond what the analyser takes are skipped; it reports the template as too large.
    const kept = Math.min(length, MAX_TEMPLATE_CHARS);
    const text = await this.text(kept, label);
    await this.skip(length - kept, label);
    // Only dropped bytes make a template "too large"; byte and character counts differ for non-ASCII text.
    const original = length > kept ? length : text.length;
    reportTemplate(this.ctx, text, { prefix: "gguf.chat_template", label }, at, original);
  }

  /**
   * Any other string value. Loaders collect every string of the metadata, and a renderer can be pointed at any
   * key (a renamed template variant, a tool reading its own key), so a string with template syntax is judged by
   * its content.
   */
  private async stringValue(key: string): Promise<void> {
    const at = this.reader.offset;
    const length = await this.count(`length of ${key}`);
    this.checkFits(length, key);
    const kept = Math.min(length, MAX_TEMPLATE_CHARS);
    const text = await this.text(kept, key);
    await this.skip(length - kept, key);
    reportEmbeddedTemplate(this.ctx, text, `GGUF key ${key}`, at);
  }

  private async skipValue(type: number, key: string, depth: number): Promise<void> {
    if (type === T.STRING) return this.skip(await this.count(`length of ${key}`), key);
    if (type === T.ARRAY) {
      if (depth >= MAX_ARRAY_DEPTH)
        throw new GgufError(`arrays nested deeper than ${MAX_ARRAY_DEPTH} in ${key}`, this.reader.offset);
      await this.need(4, `array type of ${key}`);
      const itemType = this.reader.u32();
      return this.skipItems(itemType, await this.count(`array length of ${key}`), key, depth + 1);
    }
    const size = FIXED_SIZE[type];
    if (size === undefined) throw new GgufError(`unknown value type ${type} for ${key}`, this.reader.offset - 4);
    return this.skip(size, key);
  }

  /** Fixed-size items are skipped in one seek; strings and arrays one by one, after a size plausibility check. */
  private async skipItems(itemType: number, count: number, key: string, depth: number): Promise<void> {
    const size = FIXED_SIZE[itemType];
    if (size !== undefined) return this.skip(count * size, `${count} items of ${key}`);
    if (itemType !== T.STRING && itemType !== T.ARRAY)
      throw new GgufError(`unknown array item type ${itemType} for ${key}`, this.reader.offset);
    // Every string or array item takes at least its length prefix.
    this.checkFits(count * (this.wide ? 8 : 4), `${count} items of ${key}`);
    for (let i = 0; i < count; i++) {
      this.tick();
      if (itemType === T.STRING) await this.skip(await this.count(`length of ${key}[${i}]`), key);
      else await this.skipValue(T.ARRAY, `${key}[${i}]`, depth);
    }
  }

  /** A u64 (v1: u32) length or count, exact only below 2^53 (larger values fail every bound check). */
  private async count(what: string): Promise<number> {
    await this.need(this.wide ? 8 : 4, what);
    return this.wide ? this.reader.u64() : this.reader.u32();
  }

  private async text(length: number, what: string): Promise<string> {
    this.checkFits(length, what);
    await this.need(length, what);
    return new TextDecoder("utf-8", { fatal: false }).decode(this.reader.take(length));
  }

  private async skip(length: number, what: string): Promise<void> {
    this.checkFits(length, what);
    const skipped = await this.reader.skip(length);
    if (skipped < length) throw new GgufError(`file ends inside ${what}`, this.reader.offset);
  }

  private async need(length: number, what: string): Promise<void> {
    if ((await this.reader.fill(length)) < length) throw new GgufError(`file ends inside ${what}`, this.reader.offset);
  }

  private checkFits(length: number, what: string): void {
    if (length > this.left())
      throw new GgufError(
        `${what}: ${length} bytes claimed but only ${this.left()} left in the file`,
        this.reader.offset,
      );
  }

  private left(): number {
    return this.source.size - this.reader.offset;
  }

  private tick(): void {
    if (++this.values % DEADLINE_EVERY === 0 && Date.now() > this.ctx.deadline)
      throw new GgufError(`time budget exhausted while reading metadata`, this.reader.offset);
  }
}
