import { scanPickles, type PickleHooks, type PickleScan } from "../pickle/machine.js";
import { OPCODES } from "../pickle/opcodes.js";
import { ByteReader, SourceWindow } from "../source/byte-reader.js";
import { SliceSource, type ByteSource } from "../source/byte-source.js";
import type { InspectContext } from "../inspect.js";
import type { FormatHandler, Probe } from "./types.js";

/**
 * A raw pickle stream (also `.pkl`, `.joblib` without arrays, dill, a plain pickle saved as `.bin`). Judged by its
 * bytes: any file whose first byte is an opcode is run through the machine, and counts as a pickle when it starts
 * with PROTO, reaches a STOP, or imports anything before it breaks. A stream that breaks before any of that cannot
 * make the loader run code either, so text and binary data that merely start with an opcode byte stay quiet.
 */
export const pickleFormat: FormatHandler = {
  name: "pickle",
  sniff(probe: Probe): boolean {
    const first = probe.head[0];
    // 'P' (PERSID) first needs a persistent_load that plain pickle.load does not have: the load fails at once.
    return first !== undefined && OPCODES[first] !== undefined && first !== 0x50;
  },
  async inspect(source: ByteSource, ctx: InspectContext): Promise<boolean> {
    const scan = await runPickles(source, ctx, 0);
    if (!looksLikePickle(scan)) return false;
    await recordPickleScan(scan, source, ctx);
    return true;
  },
};

export function looksLikePickle(scan: PickleScan): boolean {
  return scan.protocol > 0 || scan.pickles > 0 || scan.imports.length > 0;
}

/** Runs the machine over `source` from `offset` with the context's limits and deadline. */
export async function runPickles(
  source: ByteSource,
  ctx: InspectContext,
  offset: number,
  options: { stopAfter?: number; hooks?: PickleHooks; end?: number } = {},
): Promise<PickleScan> {
  const reader = new ByteReader(new SourceWindow(source, offset, options.end ?? source.size), offset);
  return scanPickles(reader, {
    limits: { ...ctx.limits.pickle, deadline: ctx.deadline },
    ...(options.stopAfter !== undefined ? { stopAfter: options.stopAfter } : {}),
    ...(options.hooks ? { hooks: options.hooks } : {}),
  });
}

/** Records a finished scan in the context and scans the byte payloads it hands to pickle loaders. */
export async function recordPickleScan(scan: PickleScan, source: ByteSource, ctx: InspectContext): Promise<void> {
  ctx.addPickleScan(scan);
  for (const nested of scan.nested) {
    if (nested.at + nested.length > source.size) continue;
    const child = new SliceSource(source, nested.at, nested.length, `${nested.loader}@${nested.at}`);
    await ctx.inspectChild(child, `${ctx.member ? ctx.member + ":" : ""}${nested.loader}(bytes@${nested.at})`);
  }
}
