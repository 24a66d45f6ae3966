import type { ByteSource } from "../source/byte-source.js";
import type { Probe } from "../source/probe.js";

/**
 * What a container needs from the scan that opened it. Containers read bytes and hand members back by name and
 * ByteSource; what a member means (a torch storage, a pickle, a config) is decided above them, by the formats and
 * the dispatcher. The dispatcher (inspect.ts) implements this interface, so the arrow points down.
 */
export interface ContainerLimits {
  /** Containers inside containers. */
  maxDepth: number;
  /** Members of all containers of one file. */
  maxMembers: number;
  /** Bytes produced by decompression for one file, all members and wrappers together. */
  maxDecompressedBytes: number;
  /**
   * Bytes one compressed stream (a gzip/zlib/bz2/xz/lzma/lz4 wrapper, a 7z folder) may produce. An absolute cap
   * beside the ratio: LZ4 cannot exceed ~255:1, so a ratio cap alone lets a 4 GiB LZ4 stream through.
   */
  maxMemberDecompressedBytes: number;
  /** Decompressed/compressed ratio above which a member is a suspected bomb. */
  maxCompressionRatio: number;
  /** Time for one file. */
  fileTimeoutMs: number;
}

export interface ContainerContext {
  /** Path of the source being read inside the file ("" for the file itself); members are `<member>!<name>`. */
  readonly member: string;
  readonly depth: number;
  /** Wall-clock time (ms since the epoch) after which the file's scan stops. */
  readonly deadline: number;
  readonly limits: ContainerLimits;
  /** Records an anomaly of the current source. */
  indicate(id: string, message: string, offset?: number): void;
  addFormat(name: string): void;
  /** Counts decompressed bytes against the file's budget; false when the budget is spent. */
  spendDecompressed(bytes: number): boolean;
  /** Hands a member back to the dispatcher, which reads it by its content. */
  inspectChild(source: ByteSource, member: string): Promise<void>;
  /** Hands a decompressed stream back to the dispatcher. */
  inspectStream(chunks: AsyncIterable<Uint8Array>, member: string, maxBuffered?: number): Promise<void>;
}

/** A container the dispatcher can try on a file: a cheap probe test, then a read that hands members back. */
export interface ContainerHandler {
  readonly name: string;
  readonly exclusive?: boolean;
  sniff(probe: Probe): boolean;
  inspect(source: ByteSource, ctx: ContainerContext, probe: Probe): Promise<boolean>;
}

/** An irregularity of a container, as data: recorded by whoever reads the container, under a member path. */
export interface Anomaly {
  member: string;
  id: string;
  message: string;
  offset: number | undefined;
}
