import { scanPickles, type PickleHooks, type PickleScan } from "../pickle/machine.js";
import { constString, pathOf, type CallValue, type Value } from "../pickle/values.js";
import type { ByteReader } from "../source/byte-reader.js";
import type { FormatContext } from "./types.js";

/**
 * joblib interleaves raw NumPy array bytes with pickle opcodes: after the BUILD of a
 * `joblib.numpy_pickle.NumpyArrayWrapper` come a padding-length byte, that many padding bytes and the array's
 * bytes (or, for object arrays, a whole nested pickle). These hooks skip exactly those bytes so the machine keeps
 * reading opcodes after them, the way joblib's NumpyUnpickler does in `NumpyArrayWrapper.read_array`.
 *
 * Sizes come from the wrapper's state (shape × dtype item size). When they cannot be known the stream cannot be
 * followed any further, so the rest is given up with a finding (fail closed), never guessed.
 */

const WRAPPER = "joblib.numpy_pickle.NumpyArrayWrapper";
/** Ways a protocol 0–2 pickle makes an instance of a class without naming it as the callee. */
const INSTANCE_FACTORIES = new Set([
  "copyreg._reconstructor",
  "copy_reg._reconstructor",
  "copyreg.__newobj__",
  "copy_reg.__newobj__",
  "copyreg.__newobj_ex__",
]);
const DTYPE_CONSTRUCTORS = new Set(["numpy.dtype", "numpy.core.multiarray.dtype", "numpy._core.multiarray.dtype"]);
/** Nesting of structured dtypes (fields, sub-arrays) followed when looking for object fields. */
const MAX_DTYPE_DEPTH = 8;
/** Indicators the hooks add to one scan; a hostile stream could otherwise repeat one per BUILD. */
const MAX_INDICATORS = 200;
/** numpy's NPY_ITEM_REFCOUNT flag: the dtype holds Python objects. */
const NPY_ITEM_HASOBJECT = 0x01;

/** The bytes that follow a wrapper's BUILD. */
type ArrayLayout =
  { kind: "objects" } | { kind: "raw"; bytes: number; padded: boolean } | { kind: "unknown"; reason: string };

export function joblibHooks(ctx: FormatContext): PickleHooks {
  // BUILD does not change a value in the machine, so each numpy.dtype's state (item size of flexible types, fields,
  // flags) is remembered here, keyed by the dtype value itself (memo GETs return the same object).
  const dtypeStates = new WeakMap<Value, Value>();
  let seen = false;
  return {
    async afterBuild(
      target: Value,
      state: Value,
      reader: ByteReader,
      scan: PickleScan,
      frameEnd: number,
    ): Promise<void> {
      if (isDtype(target)) {
        dtypeStates.set(target, state);
        return;
      }
      if (!isArrayWrapper(target)) return;
      if (!seen) {
        ctx.addFormat("joblib");
        seen = true;
      }
      const buildAt = reader.offset - 1;
      if (frameEnd > reader.offset) {
        // joblib's Python unpickler reads the array from the file after the buffered frame, then goes on with the
        // rest of the frame: a layout no writer produces, which this linear reading cannot follow exactly.
        indicate(
          scan,
          "joblib.array_inside_frame",
          `array wrapper BUILD inside a FRAME (frame ends at ${frameEnd})`,
          buildAt,
        );
        await abandon(reader);
        return;
      }
      const layout = arrayLayout(wrapperAttributes(state), dtypeStates);
      if (layout.kind === "unknown") {
        indicate(scan, "joblib.unsized_array", `cannot size the NumPy array after BUILD: ${layout.reason}`, buildAt);
        await abandon(reader);
      } else if (layout.kind === "objects") {
        await readObjectArray(ctx, reader, scan);
      } else {
        await skipRawArray(reader, layout, scan, buildAt);
      }
    },
  };
}

function isDtype(v: Value): v is CallValue {
  return v.k === "call" && DTYPE_CONSTRUCTORS.has(pathOf(v.callee) ?? "");
}

/** An instance of NumpyArrayWrapper however it was made (NEWOBJ, REDUCE, OBJ, INST, copyreg helpers). */
function isArrayWrapper(v: Value): boolean {
  if (v.k !== "call") return false;
  const callee = pathOf(v.callee);
  if (callee === WRAPPER) return true;
  if (!INSTANCE_FACTORIES.has(callee ?? "") || v.args.k !== "tuple") return false;
  return pathOf(v.args.items[0]) === WRAPPER;
}

/**
 * The attributes BUILD gives the wrapper: a dict updates `__dict__`, and a `(dict, slots)` pair sets both
 * (NumpyArrayWrapper has no `__setstate__`, so these are the only ways its attributes arrive).
 */
function wrapperAttributes(state: Value): Map<string, Value> | undefined {
  const attrs = new Map<string, Value>();
  const parts = state.k === "tuple" && state.total === 2 ? state.items : [state];
  for (const part of parts) {
    if (part.k === "none") continue;
    if (part.k !== "dict" || part.total > part.entries.length) return undefined;
    for (const [key, value] of part.entries) {
      const name = constString(key);
      if (name === undefined) return undefined;
      attrs.set(name, value);
    }
  }
  return attrs.size > 0 ? attrs : undefined;
}

function arrayLayout(attrs: Map<string, Value> | undefined, dtypeStates: WeakMap<Value, Value>): ArrayLayout {
  if (!attrs) return { kind: "unknown", reason: "the state is not a constant dict" };
  const dtype = attrs.get("dtype");
  if (!dtype || !isDtype(dtype)) return { kind: "unknown", reason: "dtype is not a numpy.dtype(...) call" };
  const info = dtypeInfo(dtype, dtypeStates, 0);
  if (typeof info === "string") return { kind: "unknown", reason: info };
  // read_array unpickles object arrays before it even looks at the shape.
  if (info.hasObjects) return { kind: "objects" };
  const count = elementCount(attrs.get("shape"));
  if (typeof count === "string") return { kind: "unknown", reason: count };
  const bytes = count * BigInt(info.itemSize);
  if (bytes > BigInt(Number.MAX_SAFE_INTEGER))
    return { kind: "unknown", reason: `absurd array size of ${bytes} bytes` };
  // joblib ≥ 1.2 aligns array data and records it; older files have no padding byte at all.
  const alignment = attrs.get("numpy_array_alignment_bytes");
  return { kind: "raw", bytes: Number(bytes), padded: alignment !== undefined && alignment.k !== "none" };
}

/** Product of the shape's dimensions (an empty shape is a scalar: one element). */
function elementCount(shape: Value | undefined): bigint | string {
  if (!shape || (shape.k !== "tuple" && shape.k !== "list")) return "shape is not a tuple";
  if (shape.total > shape.items.length) return `shape has ${shape.total} dimensions`;
  let count = 1n;
  for (const dim of shape.items) {
    if (dim.k !== "int") return "shape holds a value that is not an integer";
    if (dim.v < 0) return `negative dimension ${dim.v}`;
    count *= BigInt(dim.v);
  }
  return count;
}

interface DtypeInfo {
  itemSize: number;
  hasObjects: boolean;
}

/**
 * Item size and object-ness of a pickled `numpy.dtype(typestr, align, copy)` plus its BUILD state
 * `(version, byteorder, subarray, names, fields, elsize, alignment, flags[, metadata])`. Any sign of objects (type
 * code O, the flag, an object field or sub-array) counts, since reading an object array as raw bytes would skip
 * a pickle.
 */
function dtypeInfo(dtype: CallValue, states: WeakMap<Value, Value>, depth: number): DtypeInfo | string {
  if (depth > MAX_DTYPE_DEPTH) return "dtype nested too deeply";
  const typestr = dtype.args.k === "tuple" ? constString(dtype.args.items[0]) : undefined;
  if (typestr === undefined) return "dtype type is not a constant string";
  const parsed = parseTypestr(typestr);
  if (!parsed) return `unknown dtype ${JSON.stringify(typestr.slice(0, 40))}`;
  const state = states.get(dtype);
  const fields = state?.k === "tuple" ? state.items : [];
  if (state && state.k === "tuple" && state.total > state.items.length) return "dtype state too long";
  let hasObjects = parsed.kind === "O";
  const flags = fields[7];
  if (flags?.k === "int" && (BigInt(flags.v) & BigInt(NPY_ITEM_HASOBJECT)) !== 0n) hasObjects = true;
  const nested = nestedDtypes(fields[2], fields[4]);
  if (typeof nested === "string") return nested;
  for (const inner of nested) {
    if (!isDtype(inner)) return "a field or sub-array type is not a numpy.dtype(...) call";
    const info = dtypeInfo(inner, states, depth + 1);
    if (typeof info === "string") return info;
    hasObjects ||= info.hasObjects;
  }
  let itemSize = parsed.size;
  const elsize = fields[5];
  // numpy takes the state's element size only for flexible types (void, bytes, str), whose size it defines.
  if (FLEXIBLE_KINDS.has(parsed.kind) && elsize?.k === "int" && elsize.v > 0) itemSize = Number(elsize.v);
  if (itemSize <= 0 && !hasObjects) return `dtype ${JSON.stringify(typestr)} has no size`;
  return { itemSize, hasObjects };
}

/** The dtypes a structured or sub-array dtype is made of: `subarray = (dtype, shape)`, `fields = {name: (dtype, offset[, title])}`. */
function nestedDtypes(subarray: Value | undefined, fields: Value | undefined): Value[] | string {
  const out: Value[] = [];
  if (subarray && subarray.k !== "none") {
    if (subarray.k !== "tuple" || subarray.items.length < 1) return "sub-array state is not a tuple";
    out.push(subarray.items[0]!);
  }
  if (fields && fields.k !== "none") {
    if (fields.k !== "dict" || fields.total > fields.entries.length) return "dtype fields are not a readable dict";
    for (const [, entry] of fields.entries) {
      if (entry.k !== "tuple" || entry.items.length < 1) return "a dtype field is not a tuple";
      out.push(entry.items[0]!);
    }
  }
  return out;
}

const FLEXIBLE_KINDS = new Set(["S", "a", "U", "V"]);
/** Item sizes NumPy accepts after each kind letter (`f8`, `i4`, `c16`…). */
const SIZED_KINDS: Record<string, readonly number[]> = {
  b: [1],
  i: [1, 2, 4, 8],
  u: [1, 2, 4, 8],
  f: [2, 4, 8, 12, 16],
  c: [8, 16, 24, 32],
  M: [8],
  m: [8],
  O: [4, 8],
};
/** One-character codes whose size is the same on every platform NumPy runs on (not `l`, `g`: long differs on Windows). */
const CHAR_CODES: Record<string, number> = {
  "?": 1,
  b: 1,
  B: 1,
  h: 2,
  H: 2,
  i: 4,
  I: 4,
  q: 8,
  Q: 8,
  e: 2,
  f: 4,
  d: 8,
  F: 8,
  D: 16,
  O: 8,
  M: 8,
  m: 8,
  S: 0,
  a: 0,
  U: 0,
  V: 0,
};

/** Parses a NumPy type string (`<f8`, `|b1`, `U10`, `S5`, `V24`, `M8[ns]`, `c16`, `O`) into a kind and an item size. */
export function parseTypestr(typestr: string): { kind: string; size: number } | undefined {
  const match = /^[<>|=]?([A-Za-z?])(\d{0,10})(\[[A-Za-z0-9]{1,8}\])?$/.exec(typestr);
  if (!match) return undefined;
  const code = match[1]!;
  const digits = match[2]!;
  if (match[3] && code !== "M" && code !== "m") return undefined;
  if (digits === "") {
    const size = CHAR_CODES[code];
    if (size === undefined) return undefined;
    return { kind: code === "?" ? "b" : code, size };
  }
  const n = Number(digits);
  if (FLEXIBLE_KINDS.has(code)) return { kind: code, size: code === "U" ? n * 4 : n };
  if (!SIZED_KINDS[code]?.includes(n)) return undefined;
  return { kind: code, size: n };
}

/** Skips the padding-length byte, the padding and the array bytes (without reading them when the source seeks). */
async function skipRawArray(
  reader: ByteReader,
  layout: { bytes: number; padded: boolean },
  scan: PickleScan,
  buildAt: number,
): Promise<void> {
  let padding = 0;
  if (layout.padded) {
    if ((await reader.fill(1)) < 1) {
      indicate(scan, "joblib.truncated_array", "stream ends before the array's padding byte", buildAt);
      return;
    }
    padding = reader.u8();
  }
  const wanted = padding + layout.bytes;
  const skipped = await reader.skip(wanted);
  if (skipped < wanted)
    indicate(scan, "joblib.truncated_array", `array data ends after ${skipped} of ${wanted} bytes`, buildAt);
}

/**
 * An object array is a whole pickle written with `pickle.dump` after the BUILD and read back with plain
 * `pickle.load`: the standard unpickler, so no joblib hooks apply inside it. Its findings join the outer scan.
 */
async function readObjectArray(ctx: FormatContext, reader: ByteReader, scan: PickleScan): Promise<void> {
  const inner = await scanPickles(reader, { stopAfter: 1, limits: { ...ctx.limits.pickle, deadline: ctx.deadline } });
  mergeScan(scan, inner);
  // pickle.load raising ends joblib.load as well: nothing after a broken object array is ever read.
  if (!inner.clean) await abandon(reader);
}

function mergeScan(outer: PickleScan, inner: PickleScan): void {
  outer.imports.push(...inner.imports);
  for (const ind of inner.indicators) indicate(outer, ind.id, ind.message, ind.offset);
  outer.nested.push(...inner.nested);
  outer.opcodes += inner.opcodes;
}

/** Gives up on the rest of the stream: the machine then reports the pickle as truncated at the end. */
async function abandon(reader: ByteReader): Promise<void> {
  await reader.skip(Number.MAX_SAFE_INTEGER);
}

function indicate(scan: PickleScan, id: string, message: string, offset: number): void {
  if (scan.indicators.length < MAX_INDICATORS) scan.indicators.push({ id, message, offset });
}
