import type { FileInventory } from "../inventory.js";
import type { PickleLimits, PickleScan } from "../pickle/machine.js";
import type { ByteSource } from "../source/byte-source.js";
import type { Probe } from "../source/probe.js";
import type { ContainerContext, ContainerLimits } from "../containers/types.js";

export type { Probe } from "../source/probe.js";

/** Budgets of one file's scan: nesting, members, decompressed bytes, time, and the pickle machine's bounds. */
export interface ScanLimits extends ContainerLimits {
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

/**
 * What a format reader may do with the scan of one file: everything a container may (record anomalies, hand
 * members back), plus read and add to the inventory and record pickle scans. The dispatcher (inspect.ts)
 * implements it; formats import only this interface, never the dispatcher.
 */
export interface FormatContext extends ContainerContext {
  readonly inventory: FileInventory;
  readonly limits: ScanLimits;
  addPickleScan(scan: PickleScan): void;
  /** A context for a member of the current source, sharing this file's budgets and deadline. */
  child(member: string): FormatContext;
}

/** One file format or container reader, loaded when its registry probe claims a file (see registry.ts). */
export interface FormatHandler {
  readonly name: string;
  /**
   * Once this handler recognises a file, no later handler reads it as well. For formats whose structure leaves no
   * room for a second reading that a loader would take (a safetensors header, a GGUF or ONNX file, an .npy, a
   * compressed or 7z stream): reading their bytes as a pickle finds only noise.
   */
  readonly exclusive?: boolean;
  /** A cheap test on the probe bytes; true means "worth inspecting", not "certainly this format". */
  sniff(probe: Probe): boolean;
  /**
   * Reads the source and records imports and indicators in the context. Returns false when the bytes turn out
   * not to be this format (nothing is then recorded).
   */
  inspect(source: ByteSource, ctx: FormatContext, probe: Probe): Promise<boolean>;
}
