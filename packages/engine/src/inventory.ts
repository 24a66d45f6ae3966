/**
 * What a file contains, independent of any rules: the imports and calls its pickles would perform and the
 * structural indicators of its formats. An inventory is what the cache stores under the file's SHA-256, so a new
 * rules pack can re-judge a file without reading it again.
 */
export interface InventoryImport {
  module: string;
  name: string;
  /** Container member the import was found in ("" for the file itself). */
  member: string;
  offsets: number[];
  opcode: string;
  via?: string;
  calls: string[];
  /** `builtins.getattr` only: the bound methods it fetched from instances (see pickle/machine.ts). */
  boundMethods?: { pairs: Array<{ cls: string; method: string; onClass?: boolean }>; fetches: number; pushes: number };
  /** Nested-pickle loaders only: pushes of it, and calls whose literal byte payload was read as a nested file. */
  nestedLoads?: { pushes: number; reads: number };
  /** `functools.partial` only: its uses as protocol 2–3 keyword construction (see pickle/scan-types.ts). */
  partialNew?: { classes: string[]; constructions: number; pushes: number; spoiled: boolean };
}

export interface InventoryIndicator {
  /** Rule-pack id, e.g. `pickle.truncated`, `zip.crc_mismatch`, `keras.lambda`. */
  id: string;
  message: string;
  member: string;
  offset?: number;
}

export interface FileInventory {
  path: string;
  size: number;
  sha256?: string;
  /** Formats recognised, outermost first (`zip`, `pytorch`, `pickle`). */
  formats: string[];
  imports: InventoryImport[];
  indicators: InventoryIndicator[];
  /** Reasons the file could not be read fully (also raised as indicators so the verdict fails closed). */
  errors: string[];
  bytes_read: number;
}

export const INVENTORY_VERSION = 2;
