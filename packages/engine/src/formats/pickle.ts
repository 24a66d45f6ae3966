import { latin1PayloadBytes } from "../pickle/latin1-payload.js";
import {
  DEFAULT_LIMITS,
  scanPickles,
  type NestedPayload,
  type PickleHooks,
  type PickleScan,
} from "../pickle/machine.js";
import { OPCODES } from "../pickle/opcodes.js";
import { ByteReader, SourceWindow } from "../source/byte-reader.js";
import { BufferSource, SliceSource, type ByteSource } from "../source/byte-source.js";
import type { FormatContext, FormatHandler, Probe } from "./types.js";
import type { Value } from "../pickle/values.js";
import { joblibHooks } from "./joblib.js";

/**
 * A raw pickle stream (also `.pkl`, `.joblib` without arrays, dill, a plain pickle saved as `.bin`). Judged by its
 * bytes: any file whose first byte is an opcode is run through the machine and kept when `looksLikePickle` says so.
 * A stream that breaks before any import cannot make the loader run code, so data that merely starts with an
 * opcode byte stays quiet.
 */
export const pickleFormat: FormatHandler = {
  name: "pickle",
  sniff(probe: Probe): boolean {
    const first = probe.head[0];
    // 'P' (PERSID) first needs a persistent_load that plain pickle.load does not have: the load fails at once.
    return first !== undefined && OPCODES[first] !== undefined && first !== 0x50;
  },
  async inspect(source: ByteSource, ctx: FormatContext): Promise<boolean> {
    const hooks = joblibHooks(ctx);
    const first = await runPickles(source, ctx, 0, { stopAfter: 1, hooks });
    if (!looksLikePickle(first)) return false;
    await recordPickleScan(first, source, ctx);
    if (!first.clean || first.end >= source.size) return true;
    // A legacy torch.save file is five pickles (magic number, protocol, sys_info, the object, storage keys) and
    // then raw storage bytes that nothing unpickles. Any other stream: every pickle to the end.
    const legacy = isLegacyTorchMagic(first.results[0]);
    if (legacy) ctx.addFormat("pytorch-legacy");
    const rest = await runPickles(source, ctx, first.end, {
      hooks,
      continuation: true,
      ...(legacy ? { stopAfter: 4 } : {}),
    });
    await recordPickleScan(rest, source, ctx);
    return true;
  },
};

/** torch.serialization's MAGIC_NUMBER, the first pickle of a legacy (non-zip) checkpoint. */
export const LEGACY_TORCH_MAGIC = 0x1950a86a20f9469cfc6cn;

export function isLegacyTorchMagic(value: Value | undefined): boolean {
  return value?.k === "int" && value.v === LEGACY_TORCH_MAGIC;
}

/**
 * A stream counts as a pickle when it starts with PROTO, reaches a STOP, tries to import a module whose name is
 * shaped like a Python module (even if that import then fails: a malformed pickle is a finding, not silence), or
 * reads well-formed opcodes until a limit of the reader stops it (what follows was never seen, so "not a pickle"
 * cannot be said). A text file that merely starts with an opcode byte (`cmake_minimum_required(…)` reads as
 * GLOBAL) is not.
 */
export function looksLikePickle(scan: PickleScan): boolean {
  return (
    scan.protocol > 0 ||
    scan.pickles > 0 ||
    scan.importAttempts > 0 ||
    scan.indicators.some((i) => i.id === "pickle.limit")
  );
}

/** Runs the machine over `source` from `offset` with the context's limits and deadline. */
export async function runPickles(
  source: ByteSource,
  ctx: FormatContext,
  offset: number,
  options: { stopAfter?: number; hooks?: PickleHooks; end?: number; continuation?: boolean } = {},
): Promise<PickleScan> {
  const reader = new ByteReader(new SourceWindow(source, offset, options.end ?? source.size), offset);
  return scanPickles(reader, {
    limits: { ...ctx.limits.pickle, deadline: ctx.deadline },
    ...(options.stopAfter !== undefined ? { stopAfter: options.stopAfter } : {}),
    ...(options.hooks ? { hooks: options.hooks } : {}),
    ...(options.continuation ? { continuation: true } : {}),
  });
}

/** Records a finished scan in the context and scans the byte payloads it hands to pickle loaders. */
export async function recordPickleScan(scan: PickleScan, source: ByteSource, ctx: FormatContext): Promise<void> {
  // A loader's payloads count as read only here, where they are inspected (the policy passes a loader whose every
  // payload was read; a stream scanned without this step leaves the count at zero).
  const children: Array<{ nested: NestedPayload; child: ByteSource }> = [];
  for (const nested of scan.nested) {
    const child = await payloadSource(nested, source, ctx);
    if (!child) continue;
    children.push({ nested, child });
    const use = nested.importIndex !== undefined ? scan.imports[nested.importIndex]?.nestedLoads : undefined;
    if (use) use.reads++;
  }
  ctx.addPickleScan(scan);
  for (const { nested, child } of children)
    await ctx.inspectChild(child, `${ctx.member ? ctx.member + ":" : ""}${nested.loader}(bytes@${nested.at})`);
}

/**
 * The bytes a loader is given: a slice of the stream, or for `_codecs.encode(<str>, 'latin1')` the string's code
 * points, decoded into memory up to maxEncodedPayload. Undefined when they cannot be read (past the end, over the
 * limit, or text the loader itself would fail on); the loader then keeps its rule's verdict.
 */
async function payloadSource(
  nested: NestedPayload,
  source: ByteSource,
  ctx: FormatContext,
): Promise<ByteSource | undefined> {
  if (nested.at + nested.length > source.size) return undefined;
  const name = `${nested.loader}@${nested.at}`;
  if (!nested.text) return new SliceSource(source, nested.at, nested.length, name);
  const max = ctx.limits.pickle.maxEncodedPayload ?? DEFAULT_LIMITS.maxEncodedPayload;
  if (nested.length > max) {
    ctx.indicate(
      "pickle.limit",
      `_codecs.encode payload of ${nested.length} bytes given to ${nested.loader} is longer than maxEncodedPayload (${max} bytes); it is not read`,
      nested.at,
    );
    return undefined;
  }
  const bytes = latin1PayloadBytes(await source.read(nested.at, nested.length), nested.text);
  return bytes ? new BufferSource(bytes, name) : undefined;
}
