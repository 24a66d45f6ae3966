import type { ByteReader } from "../source/byte-reader.js";
import type { Value } from "./values.js";

/** What a scan of pickles reports, and the bounds and options it runs under. */

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
  /**
   * Bytes of text decoded into memory to read a `_codecs.encode(<str>, 'latin1')` payload given to a pickle
   * loader (protocols 0–2 spell bytes so); a longer one is not read and its loader keeps its Warning.
   */
  maxEncodedPayload: number;
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
  maxEncodedPayload: 64 * 1024 * 1024,
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
  /** For `functools.partial`: its uses as CPython's protocol 2–3 keyword construction (see PartialNewUse). */
  partialNew?: PartialNewUse;
}

/**
 * Protocols 2–3 write keyword construction (what protocol 4's NEWOBJ_EX does) as
 * `partial(cls.__new__, cls, *args, **kwargs)()`: REDUCE partial with `(cls.__new__,)`, then BUILD with the state
 * `(cls.__new__, (cls, *args), kwargs, None)`. `constructions` counts partials built in exactly that shape, with
 * their classes; `spoiled` is set when a BUILD gives such a partial any other state. When every push of partial
 * was such a construction and none was spoiled, the policy judges the classes instead of partial.
 */
export interface PartialNewUse {
  classes: string[];
  constructions: number;
  pushes: number;
  spoiled: boolean;
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
  /**
   * Set when the payload is `_codecs.encode(<str>, 'latin1')`: `at`/`length` are then the string's bytes in the
   * stream, decoded this way to text whose code points are the payload's bytes.
   */
  text?: "utf8" | "raw-unicode-escape";
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
