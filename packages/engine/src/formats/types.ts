import type { ByteSource } from "../source/byte-source.js";
import type { InspectContext } from "../inspect.js";

/** The first 4 KiB and the last 1 KiB of a source: enough for every magic-number test without a second read. */
export interface Probe {
  head: Uint8Array;
  tail: Uint8Array;
  size: number;
}

/** One file format or container. Adding a format is adding one of these and a line in the registry. */
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
  inspect(source: ByteSource, ctx: InspectContext, probe: Probe): Promise<boolean>;
}
