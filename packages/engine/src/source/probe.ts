import type { ByteSource } from "./byte-source.js";

/** The first 4 KiB and the last 1 KiB of a source: enough for every magic-number test without a second read. */
export interface Probe {
  head: Uint8Array;
  tail: Uint8Array;
  size: number;
}

const HEAD_SIZE = 4096;
// The ZIP end record sits in the last 22 bytes (plus a comment, which the zip reader searches for itself).
const TAIL_SIZE = 1024;

/** Reads the bytes every sniffer needs, at most two small reads. */
export async function probe(source: ByteSource): Promise<Probe> {
  const head = await source.read(0, Math.min(HEAD_SIZE, source.size));
  const tailStart = Math.max(0, source.size - TAIL_SIZE);
  const tail =
    tailStart < head.length ? head.subarray(tailStart) : await source.read(tailStart, source.size - tailStart);
  return { head, tail, size: source.size };
}
