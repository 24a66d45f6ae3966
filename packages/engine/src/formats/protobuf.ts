import { ByteReader, SourceWindow } from "../source/byte-reader.js";
import type { ByteSource } from "../source/byte-source.js";

/**
 * A forward protobuf field walker over a ByteSource, in the manner of @bufbuild/protobuf's `BinaryReader` but
 * without holding the message in memory: callers read field headers, descend into the length-delimited fields they
 * care about (bounded by the parent's end offset), read short strings, and seek past everything else. A multi-GB
 * ONNX initializer's `raw_data` therefore costs one seek, not a read. Every length is checked against the end of
 * its enclosing message before anything is allocated or skipped.
 */

export const enum Wire {
  Varint = 0,
  Fixed64 = 1,
  Len = 2,
  StartGroup = 3,
  EndGroup = 4,
  Fixed32 = 5,
}

export class ProtoError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

export interface FieldHeader {
  field: number;
  wire: Wire;
  /** Offset of the tag. */
  offset: number;
}

/** Strings longer than this are cut (the rest is skipped): names, domains, paths are short. */
export const MAX_STRING_BYTES = 4096;

export class ProtoWalker {
  private readonly reader: ByteReader;
  private readonly decoder = new TextDecoder("utf-8", { fatal: false });

  constructor(
    source: ByteSource,
    readonly size = source.size,
  ) {
    this.reader = new ByteReader(new SourceWindow(source, 0, size));
  }

  get offset(): number {
    return this.reader.offset;
  }

  /** The next field header before `end`, or undefined when the message ends there. */
  async next(end: number): Promise<FieldHeader | undefined> {
    const offset = this.reader.offset;
    if (offset >= end) return undefined;
    const tag = await this.varint(end);
    const field = Math.floor(tag / 8);
    const wire = tag % 8;
    if (field === 0 || field > 536_870_911) throw new ProtoError(`invalid field number ${field}`, offset);
    if (wire > 5) throw new ProtoError(`invalid wire type ${wire} for field ${field}`, offset);
    return { field, wire: wire as Wire, offset };
  }

  /** A varint as a number (exact below 2^53; larger values only ever fail bound checks). */
  async varint(end: number): Promise<number> {
    const start = this.reader.offset;
    const have = await this.reader.fill(Math.min(10, end - start));
    let value = 0;
    let scale = 1;
    for (let i = 0; i < have; i++) {
      const byte = this.reader.u8();
      value += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) return value;
      scale *= 128;
    }
    throw new ProtoError("truncated or over-long varint", start);
  }

  /** Reads the length of a length-delimited field and returns the end offset of its payload. */
  async lengthDelimited(end: number): Promise<number> {
    const at = this.reader.offset;
    const length = await this.varint(end);
    const payloadEnd = this.reader.offset + length;
    if (payloadEnd > end)
      throw new ProtoError(
        `field of ${length} bytes runs past the end of its message (${end - this.reader.offset} left)`,
        at,
      );
    return payloadEnd;
  }

  /** A length-delimited field read as UTF-8 (cut at MAX_STRING_BYTES). */
  async string(end: number): Promise<string> {
    const payloadEnd = await this.lengthDelimited(end);
    const length = payloadEnd - this.reader.offset;
    const kept = Math.min(length, MAX_STRING_BYTES);
    if ((await this.reader.fill(kept)) < kept) throw new ProtoError("file ends inside a string", this.reader.offset);
    const text = this.decoder.decode(this.reader.take(kept));
    await this.seek(payloadEnd);
    return kept < length ? `${text}…` : text;
  }

  /** Skips the value of a field whose header was just read. */
  async skipValue(header: FieldHeader, end: number): Promise<void> {
    switch (header.wire) {
      case Wire.Varint:
        await this.varint(end);
        return;
      case Wire.Fixed64:
        return this.seek(this.reader.offset + 8, end);
      case Wire.Fixed32:
        return this.seek(this.reader.offset + 4, end);
      case Wire.Len:
        return this.seek(await this.lengthDelimited(end));
      default:
        // Groups are proto2 relics no ONNX writer emits; refusing them keeps the walk linear.
        throw new ProtoError(`group wire type in field ${header.field}`, header.offset);
    }
  }

  /** Moves forward to `target` (never back), without reading the bytes in between when they are not buffered. */
  async seek(target: number, end = this.size): Promise<void> {
    const at = this.reader.offset;
    if (target > end) throw new ProtoError(`value runs past the end of its message`, at);
    if (target < at) throw new ProtoError(`cannot seek backwards`, at);
    const skipped = await this.reader.skip(target - at);
    if (skipped < target - at) throw new ProtoError("file ends inside a field", this.reader.offset);
  }
}
