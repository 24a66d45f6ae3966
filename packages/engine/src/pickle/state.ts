import type { ByteReader } from "../source/byte-reader.js";
import { isGetattr, isPartial } from "./resolve.js";
import {
  DEFAULT_LIMITS,
  DEFAULT_NESTED_LOADERS,
  type BoundMethodUse,
  type PartialNewUse,
  type PickleLimits,
  type PickleOptions,
  type PickleScan,
} from "./scan-types.js";
import { constString, lazyOpaque, opaque, pushItem, render, type SeqValue, type Value } from "./values.js";

/**
 * The machine's state and value model: the stack with its MARKs, the memo, the scan being filled and the
 * imports recorded in it. The call resolution (calls.ts), the operand readers (operands.ts) and the opcode
 * stepping (machine.ts) build on it, each a subclass of the one before.
 */

export class Stop extends Error {}

/** The "not enough bytes buffered" signal: one shared Error made once, so throwing it captures no new stack. */
export const NEED_MORE = Object.assign(new Error("need more buffered bytes"), { bytes: 0 });

/** Memo keys below this go in an array (pickles number their memo densely from 0). */
const DENSE_MEMO = 1 << 24;

const SMALL_INTS: Value[] = Array.from({ length: 1024 }, (_, i) => ({ k: "int", v: i }));

/** An int value; small ones are shared, big ones stay exact as bigint. */
export function int(v: number | bigint): Value {
  if (typeof v === "bigint")
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)
      ? int(Number(v))
      : { k: "int", v };
  return v >= 0 && v < 1024 ? SMALL_INTS[v]! : { k: "int", v };
}

const MEMO_PLACEHOLDERS = {
  list: opaque("memoized list"),
  dict: opaque("memoized dict"),
  set: opaque("memoized set"),
  tuple: opaque("memoized tuple"),
};

/**
 * What the memo keeps of a value. Strings, globals, calls and tuples of constants are kept whole (they name
 * imports, feed STACK_GLOBAL, carry joblib array shapes). Mutable containers, and tuples holding them, are kept as
 * a placeholder: a pickle of a million rows memoizes every row, and keeping them all would make memory grow with
 * the file. A later GET of one then renders as `<memoized list>`; the imports it contained were recorded already.
 */
export function memoized(v: Value): Value {
  if (v.k === "list" || v.k === "dict" || v.k === "set") return MEMO_PLACEHOLDERS[v.k];
  if (
    v.k === "tuple" &&
    v.items.some((item) => item.k === "list" || item.k === "dict" || item.k === "set" || item.k === "tuple")
  )
    return MEMO_PLACEHOLDERS.tuple;
  return v;
}

/** Indicators kept per scan. */
const MAX_INDICATORS = 200;
const MAX_OFFSETS_KEPT = 8;

/**
 * What a persistent id loads as. torch's legacy loader returns the class itself for `('module', cls, file, source)`
 * (whole-module saves), so calls on it are calls of that class; anything else (storages) stays opaque.
 */
export function persistentValue(pid: Value): Value {
  if (pid.k === "tuple" && constString(pid.items[0]) === "module" && pid.items[1]?.k === "global") return pid.items[1];
  return lazyOpaque(() => `persistent ${render(pid, 60)}`);
}

export function sequence(kind: SeqValue["k"], items: Value[]): SeqValue {
  const seq: SeqValue = { k: kind, items: [], total: 0 };
  for (const item of items) pushItem(seq, item);
  return seq;
}

/** A constant the loader would reject as a STACK_GLOBAL operand (it must be a str). */
export function isNonStrConstant(v: Value): boolean {
  if (v.k === "bytes") return v.kind !== "str8";
  return (
    v.k === "none" ||
    v.k === "bool" ||
    v.k === "int" ||
    v.k === "float" ||
    v.k === "list" ||
    v.k === "dict" ||
    v.k === "tuple" ||
    v.k === "set" ||
    v.k === "frozenset"
  );
}

/** Two's-complement little-endian integer (LONG1/LONG4). */
export function decodeLong(bytes: Uint8Array): bigint {
  if (bytes.length === 0) return 0n;
  let v = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]!);
  if (bytes[bytes.length - 1]! & 0x80) v -= 1n << BigInt(bytes.length * 8);
  return v;
}

export abstract class MachineState {
  readonly scan: PickleScan = {
    imports: [],
    indicators: [],
    nested: [],
    opcodes: 0,
    pickles: 0,
    importAttempts: 0,
    protocol: 0,
    end: 0,
    clean: false,
    results: [],
  };
  protected readonly limits: PickleLimits;
  protected readonly importIndex = new Map<string, number>();
  protected readonly nestedLoaders: ReadonlySet<string>;
  // Per-pickle state.
  protected stack: Value[] = [];
  protected marks: number[] = [];
  protected memoDense: Array<Value | undefined> = [];
  protected memoSparse = new Map<number | string, Value>();
  /** A far memo index was reported in this pickle (see checkMemoIndex). */
  protected farMemoReported = false;
  protected memoCount = 0;
  protected proto = 0;
  protected frameEnd = -1;
  // Set by the synchronous step, completed by the driver.
  protected opStart = 0;
  protected pendingSkip = 0;
  /** A value line longer than maxLine: its head was taken, the driver skips the rest through the newline. */
  protected pendingLine = false;
  protected pendingBuild: { target: Value; state: Value } | undefined;

  constructor(
    protected readonly r: ByteReader,
    protected readonly options: PickleOptions,
  ) {
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.nestedLoaders = options.nestedLoaders ?? DEFAULT_NESTED_LOADERS;
  }

  protected indicate(id: string, message: string, offset: number): void {
    if (this.scan.indicators.length < MAX_INDICATORS) this.scan.indicators.push({ id, message, offset });
  }

  protected fail(id: string, message: string, offset: number): never {
    this.indicate(id, message, offset);
    throw new Stop();
  }

  protected truncated(at: number, name: string): never {
    this.fail("pickle.truncated", `stream ends inside ${name} at offset ${at}`, at);
  }

  // ---- stack helpers (the loader never pops below the innermost MARK) ----

  protected get fence(): number {
    return this.marks.length > 0 ? this.marks[this.marks.length - 1]! : 0;
  }

  protected push(v: Value): void {
    if (this.stack.length >= this.limits.maxStackDepth)
      this.fail("pickle.limit", `stack deeper than ${this.limits.maxStackDepth}`, this.r.offset);
    if (v.k === "global" && isGetattr(`${v.module}.${v.name}`)) this.boundMethodUse(v.importIndex).pushes++;
    if (v.k === "global" && this.nestedLoaders.has(`${v.module}.${v.name}`)) this.nestedLoadUse(v.importIndex).pushes++;
    if (v.k === "global" && isPartial(`${v.module}.${v.name}`)) this.partialNewUse(v.importIndex).pushes++;
    this.stack.push(v);
  }

  protected pop(at: number, name: string): Value {
    if (this.stack.length <= this.fence) this.fail("pickle.stack_underflow", `${name} on an empty stack`, at);
    return this.stack.pop()!;
  }

  protected top(at: number, name: string): Value {
    if (this.stack.length <= this.fence) this.fail("pickle.stack_underflow", `${name} on an empty stack`, at);
    return this.stack[this.stack.length - 1]!;
  }

  protected popMark(at: number, name: string): Value[] {
    if (this.marks.length === 0) this.fail("pickle.stack_underflow", `${name} without a MARK`, at);
    const mark = this.marks.pop()!;
    return this.stack.splice(mark);
  }

  protected memoKey(index: bigint | number): number | string {
    if (typeof index === "number") return index;
    return index <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(index) : index.toString();
  }

  protected memoPut(key: number | string, at: number): void {
    const dense = typeof key === "number" && key < DENSE_MEMO;
    const exists = dense ? this.memoDense[key] !== undefined : this.memoSparse.has(key);
    if (!exists) {
      if (this.memoCount >= this.limits.maxMemo)
        this.fail("pickle.limit", `more than ${this.limits.maxMemo} memo entries`, at);
      this.memoCount++;
    }
    const value = memoized(this.top(at, "PUT"));
    if (dense) this.memoDense[key] = value;
    else this.memoSparse.set(key, value);
  }

  /**
   * A memo index no pickler could have written: picklers number their memo densely from 0 (one entry per PUT or
   * MEMOIZE, continued across the pickles of one Pickler), so no index exceeds the opcodes read so far. CPython's
   * unpickler sizes its memo array by a PUT's index and would try to allocate it (a memory bomb). Reported once
   * per pickle; the reading goes on as the loader's would.
   */
  protected checkMemoIndex(key: number | string, at: number, name: string): void {
    if (this.farMemoReported || (typeof key === "number" && key <= this.scan.opcodes)) return;
    this.farMemoReported = true;
    this.indicate(
      "pickle.memo_index",
      `${name} memo index ${key} at offset ${at} is beyond anything the stream could have stored (${this.scan.opcodes} opcodes so far); CPython would size its memo for it`,
      at,
    );
  }

  protected memoGet(key: number | string, at: number): void {
    const v = typeof key === "number" && key < DENSE_MEMO ? this.memoDense[key] : this.memoSparse.get(key);
    if (v === undefined) this.fail("pickle.memo_missing", `GET of memo index ${key} that was never stored`, at);
    this.push(v);
  }

  /** Records one import site; returns the import's index in the scan. */
  protected addImport(module: string, name: string, opcode: string, offset: number, via?: string): number {
    const key = `${module}\0${name}`;
    let index = this.importIndex.get(key);
    if (index === undefined) {
      index = this.scan.imports.length;
      this.importIndex.set(key, index);
      this.scan.imports.push({ module, name, opcode, offsets: [], count: 0, calls: [], ...(via ? { via } : {}) });
    }
    const record = this.scan.imports[index]!;
    record.count++;
    if (record.offsets.length < MAX_OFFSETS_KEPT) record.offsets.push(offset);
    return index;
  }

  protected boundMethodUse(index: number): BoundMethodUse {
    const record = this.scan.imports[index]!;
    record.boundMethods ??= { pairs: [], fetches: 0, pushes: 0 };
    return record.boundMethods;
  }
  protected partialNewUse(index: number): PartialNewUse {
    const record = this.scan.imports[index]!;
    record.partialNew ??= { classes: [], constructions: 0, pushes: 0, spoiled: false };
    return record.partialNew;
  }

  protected nestedLoadUse(index: number): { pushes: number; reads: number } {
    const record = this.scan.imports[index]!;
    record.nestedLoads ??= { pushes: 0, reads: 0 };
    return record.nestedLoads;
  }
}
