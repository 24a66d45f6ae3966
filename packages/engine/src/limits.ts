import type { PickleLimits } from "./pickle/machine.js";

/**
 * Budgets of one file's scan. Reaching any of them is a `scan.limit` finding (Warning) that names the limit, never
 * a silent Pass: whatever lies past a limit was not read.
 */
export interface ScanLimits {
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
  pickle: Partial<PickleLimits>;
}

export const DEFAULT_SCAN_LIMITS: ScanLimits = {
  maxDepth: 8,
  maxMembers: 100_000,
  maxDecompressedBytes: 8 * 1024 ** 3,
  maxMemberDecompressedBytes: 2 * 1024 ** 3,
  maxCompressionRatio: 1000,
  fileTimeoutMs: 10 * 60_000,
  pickle: {},
};
