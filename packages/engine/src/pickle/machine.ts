import type { ByteReader } from "../source/byte-reader.js";
import { OPCODES } from "./opcodes.js";
import { resolveCall } from "./resolve.js";
import {
  decodeAscii,
  decodeQuotedString,
  decodeUtf8,
  parsePyFloat,
  parsePyInt,
  parsePyIntBase0,
  rawUnicodeEscape,
} from "./text-args.js";
import {
  NONE,
  constString,
  opaque,
  pathOf,
  pushItem,
  render,
  setEntry,
  str,
  type BytesValue,
  type CallValue,
  type DictValue,
  type SeqValue,
  type Value,
} from "./values.js";

/** Bounds that turn hostile input into a finding instead of a hang or an exhausted heap. */
export interface PickleLimits {
  /** Opcodes per stream, all pickles together. */
  maxOpcodes: number;
  /** Values on the stack (all mark segments together). */
  maxStackDepth: number;
  /** Open MARKs. */
  maxMarks: number;
  /** Memo entries. */
  maxMemo: number;
  /** Characters of a string kept for analysis; longer strings keep their head and length. */
  maxStringKept: number;
  /** Bytes of a protocol-0 text argument (a line) held in memory; a longer number or string line is streamed. */
  maxLine: number;
  /**
   * Bytes of a protocol-0 STRING/UNICODE/INT/LONG/FLOAT line read at all. CPython has no such limit, so a file may
   * open with a multi-MiB line before its import; past this a scan stops with a pickle.limit finding.
   */
  maxLongLine: number;
  /** Pickles back to back in one stream. */
  maxPickles: number;
  /** Wall-clock deadline (Date.now() milliseconds); checked every few thousand opcodes. */
  deadline: number;
}

export const DEFAULT_LIMITS: PickleLimits = {
  maxOpcodes: 500_000_000,
  maxStackDepth: 2_000_000,
  maxMarks: 100_000,
  maxMemo: 4_000_000,
  maxStringKept: 256,
  maxLine: 64 * 1024,
  maxLongLine: 1024 * 1024 * 1024,
  maxPickles: 10_000,
  deadline: Infinity,
};

/** A module attribute the stream imports (GLOBAL, INST, STACK_GLOBAL) or reaches by a call we resolved. */
export interface ImportRecord {
  module: string;
  name: string;
  /** The opcode that imported it, or "getattr"-style resolution for computed references. */
  opcode: string;
  /** Offsets of the first few import sites. */
  offsets: number[];
  count: number;
  /** How a computed reference was reached, e.g. `builtins.getattr`. */
  via?: string;
  /** Renderings of the first few calls of it: `posix.system('echo hi')`. */
  calls: string[];
  /**
   * For `builtins.getattr`: the bound methods it fetched from instances (`getattr(<OneCycleLR>, '_annealing_cos')`),
   * how many of its calls were such fetches, and how often its value was put on the stack. When every push was
   * consumed by such a fetch, nothing else could call it and the policy judges the (class, method) pairs instead.
   */
  boundMethods?: BoundMethodUse;
  /**
   * For a nested-pickle loader (`torch.storage._load_from_bytes`): how often its value was put on the stack, and
   * (counted by the reader that inspects them, formats/pickle.ts) how many of its payloads were read as nested files.
   */
  nestedLoads?: { pushes: number; reads: number };
}

export interface BoundMethodUse {
  /** `onClass`: getattr(<a class>, 'name') fetched a function of the class itself, not of an instance. */
  pairs: Array<{ cls: string; method: string; onClass?: boolean }>;
  fetches: number;
  pushes: number;
}

export interface PickleIndicator {
  id: string;
  message: string;
  offset: number;
}

/** A byte payload handed to a loader of pickles (pickle.loads, torch.load…), to be scanned as a nested stream. */
export interface NestedPayload {
  loader: string;
  at: number;
  length: number;
  head: Uint8Array;
  /** The loader's import, when it was called directly with this payload as its only argument. */
  importIndex?: number;
}

export interface PickleScan {
  imports: ImportRecord[];
  indicators: PickleIndicator[];
  nested: NestedPayload[];
  opcodes: number;
  /** Pickles that ended with STOP. */
  pickles: number;
  /** GLOBAL/INST opcodes with a module name shaped like Python's, STACK_GLOBALs and EXTs, even if they failed. */
  importAttempts: number;
  /** Highest PROTO seen. */
  protocol: number;
  /** Offset after the last byte consumed. */
  end: number;
  /** True when the last pickle ended cleanly at STOP (and nothing was left unread, unless stopAfter cut it). */
  clean: boolean;
  /** The value each pickle returned at STOP (the first few), e.g. a legacy torch file's magic number. */
  results: Value[];
}

/** Lets a container format act between opcodes (joblib skips raw array bytes after a NumpyArrayWrapper BUILD). */
export interface PickleHooks {
  /** `frameEnd` is the end offset of the FRAME the BUILD sits in, or -1 when it ends a frame or there is none. */
  afterBuild?(target: Value, state: Value, reader: ByteReader, scan: PickleScan, frameEnd: number): Promise<void>;
}

export interface PickleOptions {
  limits?: Partial<PickleLimits>;
  /** Stop after this many pickles (legacy torch: 5) and leave the rest of the stream unread. */
  stopAfter?: number;
  hooks?: PickleHooks;
  /** The stream continues after an earlier pickle: bytes that do not form one are trailing data. */
  continuation?: boolean;
  /** Called for every opcode with its offset and decoded argument (differential tests). */
  trace?: (name: string, offset: number, arg: unknown) => void;
  /** Loaders whose byte arguments are nested pickles (dotted paths). */
  nestedLoaders?: ReadonlySet<string>;
}

const TRUE: Value = { k: "bool", v: true };
const FALSE: Value = { k: "bool", v: false };
const HEAD_BYTES = 64;
/** LONG1/LONG4 values up to this many bytes are decoded (8192-bit integers); longer ones are skipped. */
const MAX_LONG_BYTES = 1024;
const MAX_CALLS_KEPT = 3;
const MAX_OFFSETS_KEPT = 8;
const MAX_INDICATORS = 200;
const latin1 = new TextDecoder("latin1");
/** A dotted name as Python spells modules (ASCII letters, digits, underscores; non-ASCII bytes allowed as letters). */
const IDENTIFIER_BYTES = /^[A-Za-z_\x80-\xff][\w\x80-\xff]*(\.[A-Za-z_\x80-\xff][\w\x80-\xff]*)*$/;
const lenientUtf8 = new TextDecoder("utf-8");

export const DEFAULT_NESTED_LOADERS: ReadonlySet<string> = new Set([
  "pickle.loads",
  "_pickle.loads",
  "cPickle.loads",
  "dill.loads",
  "dill._dill.loads",
  "torch.load",
  "torch.serialization.load",
  "torch.storage._load_from_bytes",
  "joblib.load",
  "numpy.loads",
]);

class Stop extends Error {}

/** The "not enough bytes buffered" signal: one shared Error made once, so throwing it captures no new stack. */
const NEED_MORE = Object.assign(new Error("need more buffered bytes"), { bytes: 0 });

/** Memo keys below this go in an array (pickles number their memo densely from 0). */
const DENSE_MEMO = 1 << 24;

const SMALL_INTS: Value[] = Array.from({ length: 1024 }, (_, i) => ({ k: "int", v: i }));

/** An int value; small ones are shared, big ones stay exact as bigint. */
function int(v: number | bigint): Value {
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
function memoized(v: Value): Value {
  if (v.k === "list" || v.k === "dict" || v.k === "set") return MEMO_PLACEHOLDERS[v.k];
  if (
    v.k === "tuple" &&
    v.items.some((item) => item.k === "list" || item.k === "dict" || item.k === "set" || item.k === "tuple")
  )
    return MEMO_PLACEHOLDERS.tuple;
  return v;
}

/**
 * Runs pickles from `reader` symbolically: no object is built and nothing is imported. Every pickle in the
 * stream is run in turn (a loader that calls load() again would run it). Errors stop the current pickle the way
 * the loader would stop, keeping what was found before, and become indicators with offsets.
 */
export async function scanPickles(reader: ByteReader, options: PickleOptions = {}): Promise<PickleScan> {
  const machine = new Machine(reader, options);
  await machine.runAll();
  return machine.scan;
}

class Machine {
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
  private readonly limits: PickleLimits;
  private readonly importIndex = new Map<string, number>();
  private readonly nestedLoaders: ReadonlySet<string>;
  // Per-pickle state.
  private stack: Value[] = [];
  private marks: number[] = [];
  private memoDense: Array<Value | undefined> = [];
  private memoSparse = new Map<number | string, Value>();
  private memoCount = 0;
  private proto = 0;
  private frameEnd = -1;
  // Set by the synchronous step, completed by the driver.
  private opStart = 0;
  private pendingSkip = 0;
  /** A value line longer than maxLine: its head was taken, the driver skips the rest through the newline. */
  private pendingLine = false;
  private pendingBuild: { target: Value; state: Value } | undefined;

  constructor(
    private readonly r: ByteReader,
    private readonly options: PickleOptions,
  ) {
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.nestedLoaders = options.nestedLoaders ?? DEFAULT_NESTED_LOADERS;
  }

  async runAll(): Promise<void> {
    const stopAfter = this.options.stopAfter ?? Infinity;
    while (this.scan.pickles < stopAfter) {
      if (await this.r.atEnd()) break;
      if (this.scan.pickles >= this.limits.maxPickles) {
        this.indicate("pickle.limit", `more than ${this.limits.maxPickles} pickles in one stream`, this.r.offset);
        break;
      }
      const start = this.r.offset;
      const importsBefore = this.scan.imports.length;
      const ok = await this.runOne();
      if (!ok) {
        if ((this.scan.pickles > 0 || this.options.continuation) && this.scan.imports.length === importsBefore) {
          // What follows the last STOP does not even form a pickle: trailing bytes, reported as such.
          const cause = this.scan.indicators.pop();
          this.indicate(
            "pickle.trailing_data",
            `data after the last STOP at offset ${start} is not a pickle (${cause?.message ?? "unreadable"})`,
            start,
          );
        }
        break;
      }
    }
    this.scan.end = this.r.offset;
  }

  private indicate(id: string, message: string, offset: number): void {
    if (this.scan.indicators.length < MAX_INDICATORS) this.scan.indicators.push({ id, message, offset });
  }

  /** Runs one pickle to its STOP. Returns false when it broke off (the finding is recorded). */
  private async runOne(): Promise<boolean> {
    this.stack = [];
    this.marks = [];
    this.memoDense = [];
    this.memoSparse = new Map();
    this.memoCount = 0;
    this.proto = 0;
    this.pendingSkip = 0;
    this.pendingLine = false;
    this.pendingBuild = undefined;
    this.frameEnd = -1;
    this.scan.clean = false;
    try {
      await this.loop();
      this.scan.pickles++;
      this.scan.clean = true;
      return true;
    } catch (e) {
      if (e instanceof Stop) return false;
      throw e;
    }
  }

  private fail(id: string, message: string, offset: number): never {
    this.indicate(id, message, offset);
    throw new Stop();
  }

  private truncated(at: number, name: string): never {
    this.fail("pickle.truncated", `stream ends inside ${name} at offset ${at}`, at);
  }

  // ---- stack helpers (the loader never pops below the innermost MARK) ----

  private get fence(): number {
    return this.marks.length > 0 ? this.marks[this.marks.length - 1]! : 0;
  }

  private push(v: Value): void {
    if (this.stack.length >= this.limits.maxStackDepth)
      this.fail("pickle.limit", `stack deeper than ${this.limits.maxStackDepth}`, this.r.offset);
    if (v.k === "global" && isGetattr(`${v.module}.${v.name}`)) this.boundMethodUse(v.importIndex).pushes++;
    if (v.k === "global" && this.nestedLoaders.has(`${v.module}.${v.name}`)) this.nestedLoadUse(v.importIndex).pushes++;
    this.stack.push(v);
  }

  private pop(at: number, name: string): Value {
    if (this.stack.length <= this.fence) this.fail("pickle.stack_underflow", `${name} on an empty stack`, at);
    return this.stack.pop()!;
  }

  private top(at: number, name: string): Value {
    if (this.stack.length <= this.fence) this.fail("pickle.stack_underflow", `${name} on an empty stack`, at);
    return this.stack[this.stack.length - 1]!;
  }

  private popMark(at: number, name: string): Value[] {
    if (this.marks.length === 0) this.fail("pickle.stack_underflow", `${name} without a MARK`, at);
    const mark = this.marks.pop()!;
    return this.stack.splice(mark);
  }

  // ---- imports and calls ----

  private addImport(module: string, name: string, opcode: string, offset: number, via?: string): number {
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

  private pushGlobal(module: string, name: string, opcode: string, offset: number): void {
    const importIndex = this.addImport(module, name, opcode, offset);
    this.push({ k: "global", module, name, importIndex });
  }

  /** Records a call: attaches its rendering to the callee's import, resolves computed references. */
  private call(callee: Value, args: Value, opcode: string, offset: number, kwargs?: Value): CallValue {
    const resolution = resolveCall(callee, args);
    const value: CallValue = {
      k: "call",
      callee,
      args,
      opcode,
      offset,
      ...(kwargs ? { kwargs } : {}),
      ...(resolution?.kind === "reference" ? { resolved: resolution.path } : {}),
    };
    if (resolution) {
      // The call fetches or runs an attribute by name: an import in all but opcode.
      const { module, name } = splitPath(resolution.path);
      const index = this.addImport(module, name, opcode, offset, resolution.via);
      if (resolution.kind === "invocation") this.attachCall(index, value);
    }
    const calleeIndex = callee.k === "global" ? callee.importIndex : this.indexOfPath(pathOf(callee));
    if (calleeIndex !== undefined) this.attachCall(calleeIndex, value);
    else if (resolution?.kind !== "invocation")
      this.indicate("pickle.computed_call", `call of a computed value: ${render(value, 120)}`, offset);
    this.noteNested(callee, args);
    this.noteBoundMethod(callee, args, opcode);
    return value;
  }

  private boundMethodUse(index: number): BoundMethodUse {
    const record = this.scan.imports[index]!;
    record.boundMethods ??= { pairs: [], fetches: 0, pushes: 0 };
    return record.boundMethods;
  }

  /** `getattr(<instance of a class>, '<constant non-dunder name>')` called by REDUCE: a bound method fetch. */
  private noteBoundMethod(callee: Value, args: Value, opcode: string): void {
    if (opcode !== "REDUCE" || callee.k !== "global" || !isGetattr(`${callee.module}.${callee.name}`)) return;
    const found = boundMethodFetch(args);
    if (!found) return;
    const use = this.boundMethodUse(callee.importIndex);
    const known = use.pairs.some(
      (p) => p.cls === found.cls && p.method === found.method && p.onClass === found.onClass,
    );
    // A pair that cannot be kept is not counted, so the fetches fall short of the pushes and getattr stays Alert.
    if (!known && use.pairs.length >= MAX_BOUND_PAIRS) return;
    if (!known) use.pairs.push(found);
    use.fetches++;
  }

  private attachCall(index: number, value: CallValue): void {
    const calls = this.scan.imports[index]!.calls;
    if (calls.length < MAX_CALLS_KEPT) calls.push(render(value));
  }

  private indexOfPath(path: string | undefined): number | undefined {
    if (!path) return undefined;
    const { module, name } = splitPath(path);
    return this.importIndex.get(`${module}\0${name}`);
  }

  private noteNested(callee: Value, args: Value): void {
    const path = pathOf(callee);
    if (!path || !this.nestedLoaders.has(path) || args.k !== "tuple") return;
    const payload = args.items[0];
    if (payload?.k === "bytes")
      this.scan.nested.push({
        loader: path,
        at: payload.at,
        length: payload.length,
        head: payload.head,
        ...(callee.k === "global" && args.total === 1 ? { importIndex: callee.importIndex } : {}),
      });
  }

  private nestedLoadUse(index: number): { pushes: number; reads: number } {
    const record = this.scan.imports[index]!;
    record.nestedLoads ??= { pushes: 0, reads: 0 };
    return record.nestedLoads;
  }

  /** A value that is a module-level object: mutating it changes the loader's process for everyone. */
  private checkMutation(target: Value, opcode: string, offset: number): void {
    if (target.k === "global")
      this.indicate(
        "pickle.global_mutation",
        `${opcode} modifies the module-level object ${target.module}.${target.name}`,
        offset,
      );
  }

  // ---- argument readers: synchronous over buffered bytes ----
  //
  // An opcode reads all its arguments before it changes any state. When the bytes are not buffered yet, a reader
  // throws NEED_MORE; the driver rewinds to the opcode, buffers more and runs the opcode again. So the common case
  // runs without a promise per opcode, and only buffer edges pay for the await.

  private need(n: number): void {
    if (this.r.available < n) {
      NEED_MORE.bytes = this.r.offset - this.opStart + n;
      throw NEED_MORE;
    }
  }

  private line(at: number, name: string): Uint8Array {
    const bytes = this.lineOrHead();
    if (bytes === undefined)
      this.fail("pickle.limit", `${name} argument longer than maxLine (${this.limits.maxLine} bytes)`, at);
    return bytes;
  }

  /**
   * A number or string line, however long (up to maxLongLine): lines up to maxLine are returned whole; a longer
   * one returns its first maxLine bytes with `long` set, and the driver skips the rest through the newline.
   */
  private valueLine(): { bytes: Uint8Array; long: boolean } {
    const bytes = this.lineOrHead();
    if (bytes !== undefined) return { bytes, long: false };
    this.pendingLine = true;
    return { bytes: this.r.take(this.limits.maxLine).slice(), long: true };
  }

  /** The next line without its newline, or undefined when more than maxLine bytes come before the newline. */
  private lineOrHead(): Uint8Array | undefined {
    const max = this.limits.maxLine;
    const end = this.r.indexOf(0x0a);
    if (end >= 0) {
      if (end > max) return undefined;
      const bytes = this.r.take(end);
      this.r.u8(); // the newline
      return bytes;
    }
    if (this.r.available > max) return undefined;
    this.need(Math.min(this.r.available + 4096, max + 1));
    return undefined; // unreachable: need() throws when the line is not complete
  }

  /** A length-prefixed payload: keeps at most `keep` bytes; the rest is skipped by the driver, never copied. */
  private payload(length: number, keep: number): { head: Uint8Array; start: number } {
    const kept = Math.min(length, keep);
    this.need(kept);
    const start = this.r.offset;
    const head = this.r.take(kept).slice();
    this.pendingSkip = length - kept;
    return { head, start };
  }

  private stringValue(length: number): Value {
    const keepBytes = this.limits.maxStringKept * 4;
    const { head } = this.payload(length, keepBytes);
    const text = lenientUtf8.decode(head);
    if (length <= keepBytes && text.length <= this.limits.maxStringKept) return str(text);
    return str(text.slice(0, this.limits.maxStringKept), Math.max(length, text.length));
  }

  private bytesValue(length: number, kind: BytesValue["kind"]): BytesValue {
    const keep = kind === "str8" ? this.limits.maxStringKept : HEAD_BYTES;
    const { head, start } = this.payload(length, keep);
    return { k: "bytes", kind, length, head, at: start };
  }

  private checkLength(length: number, at: number, name: string): void {
    if (length < 0) this.fail("pickle.invalid_argument", `${name} with negative length ${length}`, at);
    if (!Number.isSafeInteger(length)) this.truncated(at, `${name} (declared length beyond any file)`);
  }

  private memoKey(index: bigint | number): number | string {
    if (typeof index === "number") return index;
    return index <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(index) : index.toString();
  }

  private memoPut(key: number | string, at: number): void {
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

  private memoGet(key: number | string, at: number): void {
    const v = typeof key === "number" && key < DENSE_MEMO ? this.memoDense[key] : this.memoSparse.get(key);
    if (v === undefined) this.fail("pickle.memo_missing", `GET of memo index ${key} that was never stored`, at);
    this.push(v);
  }

  // ---- the loop ----

  private async loop(): Promise<void> {
    const r = this.r;
    const trace = this.options.trace;
    const maxOpcodes = this.limits.maxOpcodes;
    for (;;) {
      if (r.available < 16) await r.fill(16);
      const at = r.offset;
      this.opStart = at;
      if (r.available === 0) this.fail("pickle.truncated", `stream ends before STOP`, at);
      if (this.frameEnd >= 0 && at >= this.frameEnd) this.frameEnd = -1;
      if (++this.scan.opcodes > maxOpcodes) this.fail("pickle.limit", `more than ${maxOpcodes} opcodes`, at);
      if ((this.scan.opcodes & 0x3fff) === 0 && Date.now() > this.limits.deadline)
        this.fail("pickle.limit", `time budget exhausted after ${this.scan.opcodes} opcodes`, at);
      const op = r.u8();
      const info = OPCODES[op];
      if (!info) this.fail("pickle.unknown_opcode", `unknown opcode 0x${op.toString(16).padStart(2, "0")}`, at);
      let arg: unknown;
      try {
        arg = this.step(op, at, info.name);
      } catch (e) {
        if (e !== NEED_MORE) throw e;
        // Not enough bytes buffered: rewind to the opcode, buffer more, run it again.
        const before = r.available + (r.offset - at);
        r.rewind(at);
        if ((await r.fill(NEED_MORE.bytes)) <= before) this.truncated(at, info.name);
        this.scan.opcodes--;
        continue;
      }
      if (this.pendingSkip > 0) {
        const skip = this.pendingSkip;
        this.pendingSkip = 0;
        if ((await r.skip(skip)) < skip) this.truncated(at, info.name);
      }
      if (this.pendingLine) {
        this.pendingLine = false;
        await this.skipRestOfLine(at, info.name);
      }
      if (this.pendingBuild) {
        const { target, state } = this.pendingBuild;
        this.pendingBuild = undefined;
        // joblib ends the frame right after a wrapper's BUILD and writes the array after it.
        if (this.frameEnd >= 0 && r.offset >= this.frameEnd) this.frameEnd = -1;
        await this.options.hooks!.afterBuild!(target, state, r, this.scan, this.frameEnd);
      }
      if (trace) trace(info.name, at, arg);
      if (this.frameEnd >= 0 && r.offset > this.frameEnd && op !== 0x95) {
        this.indicate(
          "pickle.frame_violation",
          `${info.name} at ${at} runs past the end of its FRAME (${this.frameEnd})`,
          at,
        );
        this.frameEnd = -1;
      }
      if (op === 0x2e) return; // STOP
    }
  }

  /**
   * A GLOBAL/INST module line. One longer than maxLine whose head is shaped like a module name is an import the
   * loader attempts, so it counts as one before the limit ends the scan (a finding, not "not a pickle").
   */
  private importLine(at: number, name: string): Uint8Array {
    const bytes = this.lineOrHead();
    if (bytes !== undefined) return bytes;
    const head = this.r.take(this.limits.maxLine);
    if (!IDENTIFIER_BYTES.test(latin1.decode(head)))
      this.fail("pickle.invalid_argument", `${name} module name is not a Python name`, at);
    this.scan.importAttempts++;
    return this.fail("pickle.limit", `${name} argument longer than maxLine (${this.limits.maxLine} bytes)`, at);
  }

  /** INT/LONG/FLOAT text longer than maxLine: digits (CPython >= 3.11 refuses over 4300, older ones parse it). */
  private pushLongNumber(head: Uint8Array, at: number, name: string): string {
    const text = latin1.decode(head);
    if (!/^\s*[-+]?[0-9_.eE]*$/.test(text))
      this.fail("pickle.invalid_argument", `${name} with argument ${JSON.stringify(text.slice(0, 40))}`, at);
    this.push(opaque(`number of more than ${head.length} digits`));
    return `${text.slice(0, 40)}…`;
  }

  /** A STRING line longer than maxLine: quoted like any STRING; only its head is kept. */
  private pushLongString(head: Uint8Array, at: number): string {
    const quote = head[0];
    if (quote !== 0x27 && quote !== 0x22) this.fail("pickle.invalid_argument", "STRING argument is not quoted", at);
    const kept = head.subarray(1, 1 + this.limits.maxStringKept).slice();
    this.push({ k: "bytes", kind: "str8", length: head.length - 1, head: kept, at: at + 2 });
    return latin1.decode(kept);
  }

  /** Skips the rest of a long value line through its newline, within maxLongLine. */
  private async skipRestOfLine(at: number, name: string): Promise<void> {
    const max = this.limits.maxLongLine;
    const skipped = await this.r.skipThrough(0x0a, Math.max(0, max - this.limits.maxLine));
    if (skipped === "end") this.truncated(at, name);
    if (skipped === "limit") this.fail("pickle.limit", `${name} argument longer than maxLongLine (${max} bytes)`, at);
  }

  /** Executes one opcode; returns its decoded argument (for tracing). */
  private step(op: number, at: number, name: string): unknown {
    const r = this.r;
    switch (op) {
      // ---- numbers ----
      case 0x49 /* I INT */: {
        const line = this.valueLine();
        if (line.long) return this.pushLongNumber(line.bytes, at, name);
        const text = latin1.decode(line.bytes);
        if (text === "00") return (this.push(FALSE), false);
        if (text === "01") return (this.push(TRUE), true);
        const v = parsePyIntBase0(text);
        if (v === undefined)
          this.fail("pickle.invalid_argument", `INT with argument ${JSON.stringify(text.slice(0, 40))}`, at);
        this.push({ k: "int", v });
        return v;
      }
      case 0x4c /* L LONG */: {
        const line = this.valueLine();
        if (line.long) return this.pushLongNumber(line.bytes, at, name);
        let text = latin1.decode(line.bytes);
        if (text.endsWith("L")) text = text.slice(0, -1);
        const v = parsePyIntBase0(text);
        if (v === undefined)
          this.fail("pickle.invalid_argument", `LONG with argument ${JSON.stringify(text.slice(0, 40))}`, at);
        this.push({ k: "int", v });
        return v;
      }
      case 0x4a /* J BININT */: {
        this.need(4);
        const v = r.i32();
        this.push(int(v));
        return v;
      }
      case 0x4b /* K BININT1 */: {
        this.need(1);
        const v = r.u8();
        this.push(int(v));
        return v;
      }
      case 0x4d /* M BININT2 */: {
        this.need(2);
        const v = r.u16();
        this.push(int(v));
        return v;
      }
      case 0x8a /* LONG1 */:
      case 0x8b /* LONG4 */: {
        let n: number;
        if (op === 0x8a) {
          this.need(1);
          n = r.u8();
        } else {
          this.need(4);
          n = r.i32();
          this.checkLength(n, at, name);
        }
        const { head } = this.payload(n, MAX_LONG_BYTES);
        const v = n <= MAX_LONG_BYTES ? decodeLong(head) : undefined;
        this.push(v === undefined ? opaque(`int of ${n} bytes`) : int(v));
        return v ?? n;
      }
      case 0x46 /* F FLOAT */: {
        const line = this.valueLine();
        if (line.long) return this.pushLongNumber(line.bytes, at, name);
        const text = latin1.decode(line.bytes);
        const v = parsePyFloat(text);
        if (v === undefined)
          this.fail("pickle.invalid_argument", `FLOAT with argument ${JSON.stringify(text.slice(0, 40))}`, at);
        this.push({ k: "float", v });
        return v;
      }
      case 0x47 /* G BINFLOAT */: {
        this.need(8);
        const v = r.f64be();
        this.push({ k: "float", v });
        return v;
      }
      // ---- strings and bytes ----
      case 0x53 /* S STRING */: {
        const { bytes: raw, long } = this.valueLine();
        if (long) return this.pushLongString(raw, at);
        const decoded = decodeQuotedString(raw);
        if (!decoded) this.fail("pickle.invalid_argument", "STRING argument is not quoted", at);
        const head = decoded.subarray(0, this.limits.maxStringKept);
        this.push({ k: "bytes", kind: "str8", length: decoded.length, head, at: at + 2 });
        return latin1.decode(decoded);
      }
      case 0x54 /* T BINSTRING */:
      case 0x55 /* U SHORT_BINSTRING */:
      case 0x43 /* C SHORT_BINBYTES */:
      case 0x42 /* B BINBYTES */: {
        const short = op === 0x55 || op === 0x43;
        this.need(short ? 1 : 4);
        const n = short ? r.u8() : op === 0x54 ? r.i32() : r.u32();
        this.checkLength(n, at, name);
        const v = this.bytesValue(n, op === 0x54 || op === 0x55 ? "str8" : "bytes");
        this.push(v);
        return v.k === "bytes" && v.kind === "str8" ? latin1.decode(v.head) : n;
      }
      case 0x8e /* BINBYTES8 */:
      case 0x96 /* BYTEARRAY8 */: {
        this.need(8);
        const n = r.u64();
        this.checkLength(n, at, name);
        this.push(this.bytesValue(n, op === 0x96 ? "bytearray" : "bytes"));
        return n;
      }
      case 0x56 /* V UNICODE */: {
        const { bytes: raw, long } = this.valueLine();
        if (long) {
          // The head may end inside an escape: keep what decodes, the value is only analysed by its head anyway.
          const head = latin1.decode(raw).slice(0, this.limits.maxStringKept);
          this.push(str(head, raw.length));
          return head;
        }
        const text = rawUnicodeEscape(raw);
        if (text === undefined) this.fail("pickle.invalid_argument", "UNICODE argument with a bad escape", at);
        this.push(
          text.length > this.limits.maxStringKept
            ? str(text.slice(0, this.limits.maxStringKept), text.length)
            : str(text),
        );
        return text;
      }
      case 0x8c /* SHORT_BINUNICODE */: {
        this.need(1);
        const n = r.u8();
        if (n <= r.available && n <= this.limits.maxStringKept) {
          const v = str(lenientUtf8.decode(r.take(n)));
          this.push(v);
          return v.v;
        }
        const v = this.stringValue(n);
        this.push(v);
        return v.k === "str" ? v.v : undefined;
      }
      case 0x58 /* X BINUNICODE */:
      case 0x8d /* BINUNICODE8 */: {
        this.need(op === 0x58 ? 4 : 8);
        const n = op === 0x58 ? r.u32() : r.u64();
        this.checkLength(n, at, name);
        const v = this.stringValue(n);
        this.push(v);
        return v.k === "str" ? v.v : undefined;
      }
      case 0x97 /* NEXT_BUFFER */:
        this.push(opaque("out-of-band buffer"));
        return undefined;
      case 0x98 /* READONLY_BUFFER */:
        this.top(at, name);
        return undefined;
      // ---- constants ----
      case 0x4e /* N NONE */:
        this.push(NONE);
        return undefined;
      case 0x88 /* NEWTRUE */:
        this.push(TRUE);
        return undefined;
      case 0x89 /* NEWFALSE */:
        this.push(FALSE);
        return undefined;
      // ---- containers ----
      case 0x5d /* ] EMPTY_LIST */:
        this.push({ k: "list", items: [], total: 0 });
        return undefined;
      case 0x29 /* ) EMPTY_TUPLE */:
        this.push({ k: "tuple", items: [], total: 0 });
        return undefined;
      case 0x7d /* } EMPTY_DICT */:
        this.push({ k: "dict", entries: [], total: 0 });
        return undefined;
      case 0x8f /* EMPTY_SET */:
        this.push({ k: "set", items: [], total: 0 });
        return undefined;
      case 0x6c /* l LIST */:
      case 0x74 /* t TUPLE */:
      case 0x91 /* FROZENSET */: {
        const items = this.popMark(at, name);
        const kind = op === 0x6c ? "list" : op === 0x74 ? "tuple" : "frozenset";
        this.push(sequence(kind, items));
        return undefined;
      }
      case 0x85 /* TUPLE1 */:
      case 0x86 /* TUPLE2 */:
      case 0x87 /* TUPLE3 */: {
        const n = op - 0x84;
        const items: Value[] = [];
        for (let i = 0; i < n; i++) items.unshift(this.pop(at, name));
        this.push(sequence("tuple", items));
        return undefined;
      }
      case 0x64 /* d DICT */: {
        const items = this.popMark(at, name);
        const dict: DictValue = { k: "dict", entries: [], total: 0 };
        for (let i = 0; i + 1 < items.length; i += 2) setEntry(dict, items[i]!, items[i + 1]!);
        this.push(dict);
        return undefined;
      }
      case 0x61 /* a APPEND */: {
        const item = this.pop(at, name);
        this.appendTo(this.top(at, name), [item], name, at);
        return undefined;
      }
      case 0x65 /* e APPENDS */: {
        const items = this.popMark(at, name);
        this.appendTo(this.top(at, name), items, name, at);
        return undefined;
      }
      case 0x90 /* ADDITEMS */: {
        const items = this.popMark(at, name);
        this.appendTo(this.top(at, name), items, name, at);
        return undefined;
      }
      case 0x73 /* s SETITEM */: {
        const value = this.pop(at, name);
        const key = this.pop(at, name);
        this.setItems(this.top(at, name), [key, value], name, at);
        return undefined;
      }
      case 0x75 /* u SETITEMS */: {
        const items = this.popMark(at, name);
        this.setItems(this.top(at, name), items, name, at);
        return undefined;
      }
      // ---- stack ----
      case 0x30 /* 0 POP */:
        if (this.marks.length > 0 && this.marks[this.marks.length - 1] === this.stack.length) this.marks.pop();
        else this.pop(at, name);
        return undefined;
      case 0x32 /* 2 DUP */:
        this.push(this.top(at, name));
        return undefined;
      case 0x28 /* ( MARK */:
        if (this.marks.length >= this.limits.maxMarks)
          this.fail("pickle.limit", `more than ${this.limits.maxMarks} open MARKs`, at);
        this.marks.push(this.stack.length);
        return undefined;
      case 0x31 /* 1 POP_MARK */:
        this.popMark(at, name);
        return undefined;
      // ---- memo ----
      case 0x67 /* g GET */:
      case 0x70 /* p PUT */: {
        const text = latin1.decode(this.line(at, name));
        const index = parsePyInt(text);
        if (index === undefined)
          this.fail("pickle.invalid_argument", `${name} with argument ${JSON.stringify(text.slice(0, 40))}`, at);
        if (op === 0x70 && index < 0n) this.fail("pickle.invalid_argument", "negative PUT argument", at);
        const key = this.memoKey(index);
        if (op === 0x67) this.memoGet(key, at);
        else this.memoPut(key, at);
        return index;
      }
      case 0x68 /* h BINGET */:
      case 0x71 /* q BINPUT */: {
        this.need(1);
        const index = r.u8();
        if (op === 0x68) this.memoGet(index, at);
        else this.memoPut(index, at);
        return index;
      }
      case 0x6a /* j LONG_BINGET */:
      case 0x72 /* r LONG_BINPUT */: {
        this.need(4);
        const index = r.u32();
        if (op === 0x6a) this.memoGet(index, at);
        else this.memoPut(index, at);
        return index;
      }
      case 0x94 /* MEMOIZE */:
        this.memoPut(this.memoCount, at);
        return undefined;
      // ---- imports ----
      case 0x63 /* c GLOBAL */:
      case 0x69 /* i INST */: {
        const moduleBytes = this.importLine(at, name);
        if (IDENTIFIER_BYTES.test(latin1.decode(moduleBytes))) this.scan.importAttempts++;
        const nameBytes = this.line(at, name);
        const module = decodeUtf8(moduleBytes);
        const attr = decodeUtf8(nameBytes);
        if (module === undefined || attr === undefined)
          this.fail("pickle.invalid_argument", `${name} with a name that is not UTF-8`, at);
        if (op === 0x63) {
          this.pushGlobal(module, attr, name, at);
        } else {
          const args = this.popMark(at, name);
          const index = this.addImport(module, attr, name, at);
          const cls: Value = { k: "global", module, name: attr, importIndex: index };
          this.push(this.call(cls, sequence("tuple", args), name, at));
        }
        return `${module} ${attr}`;
      }
      case 0x93 /* STACK_GLOBAL */: {
        const attrValue = this.pop(at, name);
        const moduleValue = this.pop(at, name);
        this.scan.importAttempts++; // counted once it has operands: `\x93NUMPY` is not an import
        // Python 3 decodes STRING/BINSTRING operands to str too, so constString accepts both kinds.
        const module = constString(moduleValue);
        const attr = constString(attrValue);
        if (module !== undefined && attr !== undefined) {
          this.pushGlobal(module, attr, name, at);
          return `${module} ${attr}`;
        }
        if (isNonStrConstant(moduleValue) || isNonStrConstant(attrValue))
          this.fail(
            "pickle.invalid_argument",
            `STACK_GLOBAL needs two str operands, got ${render(moduleValue, 40)} and ${render(attrValue, 40)}`,
            at,
          );
        // Operands computed at load time (or too long to keep): the loader imports a name we cannot know.
        const shownModule = module ?? render(moduleValue, 80);
        const shownName = attr ?? render(attrValue, 80);
        this.indicate("pickle.unresolved_global", `STACK_GLOBAL of a computed name: ${shownModule}, ${shownName}`, at);
        this.pushGlobal(module ?? `?${shownModule}`, attr ?? `?${shownName}`, name, at);
        return undefined;
      }
      case 0x82 /* EXT1 */:
      case 0x83 /* EXT2 */:
      case 0x84 /* EXT4 */: {
        const size = op === 0x82 ? 1 : op === 0x83 ? 2 : 4;
        this.need(size);
        const code = size === 1 ? r.u8() : size === 2 ? r.u16() : r.i32();
        this.scan.importAttempts++;
        this.indicate(
          "pickle.ext_opcode",
          `${name} ${code} fetches a callable from the copyreg extension registry`,
          at,
        );
        this.pushGlobal("copyreg._extension_registry", String(code), name, at);
        return code;
      }
      // ---- calls ----
      case 0x52 /* R REDUCE */: {
        const args = this.pop(at, name);
        const callee = this.pop(at, name);
        this.push(this.call(callee, args, name, at));
        return undefined;
      }
      case 0x62 /* b BUILD */: {
        const state = this.pop(at, name);
        const target = this.top(at, name);
        this.checkMutation(target, name, at);
        if (this.options.hooks?.afterBuild) this.pendingBuild = { target, state };
        return undefined;
      }
      case 0x6f /* o OBJ */: {
        const items = this.popMark(at, name);
        if (items.length === 0) this.fail("pickle.stack_underflow", "OBJ without a class", at);
        const cls = items.shift()!;
        this.push(this.call(cls, sequence("tuple", items), name, at));
        return undefined;
      }
      case 0x81 /* NEWOBJ */: {
        const args = this.pop(at, name);
        const cls = this.pop(at, name);
        this.push(this.call(cls, args, name, at));
        return undefined;
      }
      case 0x92 /* NEWOBJ_EX */: {
        const kwargs = this.pop(at, name);
        const args = this.pop(at, name);
        const cls = this.pop(at, name);
        this.push(this.call(cls, args, name, at, kwargs));
        return undefined;
      }
      // ---- persistent ids ----
      case 0x50 /* P PERSID */: {
        const pid = decodeAscii(this.line(at, name));
        if (pid === undefined) this.fail("pickle.invalid_argument", "PERSID argument is not ASCII", at);
        this.push(opaque(`persistent id ${pid.slice(0, 40)}`));
        return pid;
      }
      case 0x51 /* Q BINPERSID */: {
        const pid = this.pop(at, name);
        this.push(persistentValue(pid));
        return undefined;
      }
      // ---- framing ----
      case 0x80 /* PROTO */: {
        this.need(1);
        const proto = r.u8();
        if (proto > 5) this.fail("pickle.invalid_argument", `unsupported pickle protocol ${proto}`, at);
        this.proto = proto;
        this.scan.protocol = Math.max(this.scan.protocol, proto);
        return proto;
      }
      case 0x95 /* FRAME */: {
        this.need(8);
        const size = r.u64();
        if (this.frameEnd >= 0 && at < this.frameEnd)
          this.indicate(
            "pickle.frame_violation",
            `FRAME at ${at} starts inside the previous frame (ends ${this.frameEnd})`,
            at,
          );
        this.frameEnd = r.offset + size;
        return size;
      }
      case 0x2e /* . STOP */: {
        const result = this.pop(at, name);
        if (this.scan.results.length < 8) this.scan.results.push(result);
        return undefined;
      }
    }
    this.fail("pickle.unknown_opcode", `unhandled opcode ${name}`, at);
  }

  private appendTo(target: Value, items: Value[], opcode: string, at: number): void {
    if (target.k === "list" || target.k === "set") for (const item of items) pushItem(target, item);
    else this.checkMutation(target, opcode, at);
  }

  private setItems(target: Value, items: Value[], opcode: string, at: number): void {
    if (target.k === "dict") {
      for (let i = 0; i + 1 < items.length; i += 2) setEntry(target, items[i]!, items[i + 1]!);
    } else this.checkMutation(target, opcode, at);
  }
}

/**
 * What a persistent id loads as. torch's legacy loader returns the class itself for `('module', cls, file, source)`
 * (whole-module saves), so calls on it are calls of that class; anything else (storages) stays opaque.
 */
function persistentValue(pid: Value): Value {
  if (pid.k === "tuple" && constString(pid.items[0]) === "module" && pid.items[1]?.k === "global") return pid.items[1];
  return opaque(`persistent ${render(pid, 60)}`);
}

/** `a.b.c` → module `a.b`, name `c`; a bare module path has an empty name. */
export function splitPath(path: string): { module: string; name: string } {
  const dot = path.lastIndexOf(".");
  return dot > 0 ? { module: path.slice(0, dot), name: path.slice(dot + 1) } : { module: path, name: "" };
}

function sequence(kind: SeqValue["k"], items: Value[]): SeqValue {
  const seq: SeqValue = { k: kind, items: [], total: 0 };
  for (const item of items) pushItem(seq, item);
  return seq;
}

/** A constant the loader would reject as a STACK_GLOBAL operand (it must be a str). */
function isNonStrConstant(v: Value): boolean {
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
function decodeLong(bytes: Uint8Array): bigint {
  if (bytes.length === 0) return 0n;
  let v = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]!);
  if (bytes[bytes.length - 1]! & 0x80) v -= 1n << BigInt(bytes.length * 8);
  return v;
}

const GETATTR_SPELLINGS = new Set(["builtins.getattr", "__builtin__.getattr", "__builtins__.getattr"]);
const INSTANCE_OPCODES = new Set(["NEWOBJ", "NEWOBJ_EX", "OBJ", "INST"]);
const DUNDER = /^__.*__$/;
const MAX_BOUND_PAIRS = 16;

function isGetattr(path: string): boolean {
  return GETATTR_SPELLINGS.has(path);
}

/**
 * The (class, method) a getattr call fetches, when its object is an instance the stream created from a class
 * (NEWOBJ/OBJ/INST, or copyreg._reconstructor(cls, object, …) under protocols 0–1) and the name is a whole
 * constant that is not a dunder. Anything else (a module, a global, a computed name) is not a bound-method fetch.
 */
function boundMethodFetch(args: Value): { cls: string; method: string; onClass?: boolean } | undefined {
  if (args.k !== "tuple" || args.total !== 2) return undefined;
  const [instance, nameValue] = args.items;
  const method = constString(nameValue);
  if (!method || !/^[A-Za-z_]\w*$/.test(method)) return undefined;
  // getattr(<a global>, 'name'): protocols 2–3 spell a class's own function (`interp1d._call_linear_np`, the
  // `cls.__new__` of keyword construction) this way. Only listed pairs are accepted, so `__new__` may pass here.
  if (instance?.k === "global" && (!DUNDER.test(method) || method === "__new__"))
    return { cls: `${instance.module}.${instance.name}`, method, onClass: true };
  if (DUNDER.test(method) || instance?.k !== "call") return undefined;
  if (instance.resolved) return undefined;
  let cls: Value | undefined;
  if (INSTANCE_OPCODES.has(instance.opcode)) cls = instance.callee;
  else if (instance.opcode === "REDUCE" && pathOf(instance.callee)?.match(/^copy_?reg\._reconstructor$/)) {
    const items = instance.args.k === "tuple" ? instance.args.items : [];
    if (pathOf(items[1]) === "builtins.object" || pathOf(items[1]) === "__builtin__.object") cls = items[0];
  }
  if (cls?.k !== "global") return undefined;
  return { cls: `${cls.module}.${cls.name}`, method };
}
