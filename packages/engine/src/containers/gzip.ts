import { crc32, createInflateRaw } from "node:zlib";
import type { ByteSource } from "../source/byte-source.js";
import { CompressedInput, TrailingData, viaTransform } from "./decode-stream.js";

/**
 * gzip members decoded one at a time, the way Python's gzip module reads them: a member's header, its deflate
 * data, its CRC-32 and length; then another member, zero padding, or the end of the file. node:zlib's gunzip
 * fails on anything else after a member and drops the output it had, so a pickle followed by junk would go
 * unread; here the member is decoded first and what follows it is reported (compression.trailing_data).
 */

export class GzipError extends Error {}

const FHCRC = 0x02;
const FEXTRA = 0x04;
const FNAME = 0x08;
const FCOMMENT = 0x10;
/** Longest header read (file name and comment included); longer ones are not what any writer produces. */
const MAX_HEADER = 64 * 1024;
/** Members in one file; concatenated members are legal but thousands of them are not a model. */
const MAX_MEMBERS = 10_000;
const OUTPUT_CHUNK = 256 * 1024;

export async function* decodeGzipMembers(source: ByteSource, progress: CompressedInput): AsyncGenerator<Uint8Array> {
  let at = 0;
  for (let members = 0; at < source.size; members++) {
    const head = await source.read(at, Math.min(MAX_HEADER, source.size - at));
    if (members > 0 && head.every((b) => b === 0) && at + head.length === source.size) return; // padding
    if (head[0] !== 0x1f || head[1] !== 0x8b) {
      if (members === 0) throw new GzipError("not a gzip stream");
      throw new TrailingData(`${source.size - at} bytes after the last gzip member at offset ${at} are not a member`);
    }
    if (members >= MAX_MEMBERS) throw new GzipError(`more than ${MAX_MEMBERS} members`);
    const bodyStart = at + headerLength(head);
    const input = new CompressedInput(source, undefined, bodyStart);
    const inflate = createInflateRaw({ chunkSize: OUTPUT_CHUNK });
    let crc = 0;
    let length = 0;
    for await (const chunk of viaTransform(input.chunks(), inflate)) {
      progress.consumed = bodyStart + input.consumed;
      crc = crc32(chunk, crc);
      length = (length + chunk.length) >>> 0;
      yield chunk;
    }
    // bytesWritten counts the compressed bytes the engine consumed, up to the deflate stream's end.
    const end = bodyStart + inflate.bytesWritten;
    const trailer = await source.read(end, 8);
    if (trailer.length < 8) throw new GzipError("unexpected end of file inside the member trailer");
    const view = new DataView(trailer.buffer, trailer.byteOffset, 8);
    if (view.getUint32(0, true) !== crc >>> 0) throw new GzipError("incorrect data check (CRC-32)");
    if (view.getUint32(4, true) !== length) throw new GzipError("incorrect length check");
    at = end + 8;
    progress.consumed = at;
  }
}

/** Bytes of a member header (RFC 1952): fixed part, then the optional extra field, name, comment and CRC-16. */
function headerLength(head: Uint8Array): number {
  if (head.length < 10) throw new GzipError("unexpected end of file inside the header");
  if (head[2] !== 8) throw new GzipError(`unknown compression method ${head[2]}`);
  const flags = head[3]!;
  let p = 10;
  if (flags & FEXTRA) {
    if (p + 2 > head.length) throw new GzipError("truncated extra field");
    p += 2 + (head[p]! | (head[p + 1]! << 8));
  }
  for (const flag of [FNAME, FCOMMENT])
    if (flags & flag) {
      const nul = head.indexOf(0, p);
      if (nul < 0) throw new GzipError("unterminated or overlong name or comment in the header");
      p = nul + 1;
    }
  if (flags & FHCRC) p += 2;
  if (p > head.length) throw new GzipError("unexpected end of file inside the header");
  return p;
}
