import { boundMethodFetch, isGetattr, isPartial, MAX_BOUND_PAIRS, resolveCall, splitPath } from "./resolve.js";
import { MachineState } from "./state.js";
import { constString, pathOf, render, type BytesValue, type CallValue, type Value } from "./values.js";

/** Renderings of calls kept per import. */
const MAX_CALLS_KEPT = 3;

/** The codec functions protocols 0–2 spell `bytes` with: `_codecs.encode(<str>, 'latin1')`. */
const ENCODERS = new Set(["_codecs.encode", "codecs.encode"]);
/** Spellings of the Latin-1 codec, as CPython's codec lookup normalises them (lower case, `-` and ` ` to `_`). */
const LATIN1_NAMES = new Set(["latin1", "latin_1", "iso_8859_1", "iso8859_1", "l1", "latin"]);
/** Classes kept per partial import for its keyword constructions; more leave partial's own verdict. */
const MAX_PARTIAL_CLASSES = 16;

/** A `partial(cls.__new__)` made by REDUCE, waiting for the BUILD that gives it `(cls.__new__, (cls, …), kw, None)`. */
interface PendingPartial {
  importIndex: number;
  cls: string;
  built: boolean;
}

/**
 * Call resolution: every call the stream would make (REDUCE, BUILD, NEWOBJ, OBJ, INST…) is attached to the
 * import it calls, computed references (getattr, import_module, attrgetter…) become imports of their own, byte
 * payloads handed to pickle loaders are kept as nested streams, and bound-method fetches are counted for the
 * policy.
 */
export abstract class CallResolver extends MachineState {
  /** Partials of a `__new__`, keyed by their value (values are shared through the memo, never copied). */
  private readonly partials = new WeakMap<Value, PendingPartial>();

  protected pushGlobal(module: string, name: string, opcode: string, offset: number): void {
    const importIndex = this.addImport(module, name, opcode, offset);
    this.push({ k: "global", module, name, importIndex });
  }

  /**
   * Records a call (see `record`). Its value is the call, except `_codecs.encode(<str>, 'latin1')`, which is the
   * bytes it makes, readable from the stream like a protocol 3+ BINBYTES payload.
   */
  protected call(callee: Value, args: Value, opcode: string, offset: number, kwargs?: Value): Value {
    const value = this.record(callee, args, opcode, offset, kwargs);
    return (opcode === "REDUCE" && !kwargs && latin1Bytes(value)) || value;
  }

  /** Records a call: attaches its rendering to the callee's import, resolves computed references. */
  protected record(callee: Value, args: Value, opcode: string, offset: number, kwargs?: Value): CallValue {
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
    this.notePartialNew(value);
    return value;
  }

  /** REDUCE of `partial` with `(cls.__new__,)`: the first half of a protocol 2–3 keyword construction. */
  private notePartialNew(value: CallValue): void {
    const { callee, args } = value;
    if (callee.k !== "global" || !isPartial(`${callee.module}.${callee.name}`)) return;
    // INST calls its class without pushing it: a use of partial that no construction accounts for.
    if (value.opcode === "INST") this.partialNewUse(callee.importIndex).pushes++;
    if (value.opcode !== "REDUCE") return;
    if (args.k !== "tuple" || args.total !== 1) return;
    const fn = pathOf(args.items[0]);
    if (!fn?.endsWith(".__new__")) return;
    this.partials.set(value, { importIndex: callee.importIndex, cls: fn.slice(0, -".__new__".length), built: false });
  }

  /**
   * BUILD of a pending partial: counted as a construction when the state is CPython's
   * `(cls.__new__, (cls, *args), kwargs or None, None)` for the same class; any other state (another function,
   * another class, a second BUILD) spoils partial's uses, which then keep partial's own verdict.
   */
  protected notePartialState(target: Value, state: Value): void {
    const pending = this.partials.get(target);
    if (!pending) return;
    const use = this.partialNewUse(pending.importIndex);
    const items = state.k === "tuple" && state.total === 4 ? state.items : [];
    const [fn, fnArgs, kwargs, dict] = items;
    const exact =
      !pending.built &&
      pathOf(fn) === `${pending.cls}.__new__` &&
      fnArgs?.k === "tuple" &&
      fnArgs.total >= 1 &&
      pathOf(fnArgs.items[0]) === pending.cls &&
      (kwargs?.k === "dict" || kwargs?.k === "none") &&
      dict?.k === "none";
    if (!exact) {
      use.spoiled = true;
      return;
    }
    pending.built = true;
    if (!use.classes.includes(pending.cls)) {
      if (use.classes.length >= MAX_PARTIAL_CLASSES) return; // not counted: partial keeps its verdict
      use.classes.push(pending.cls);
    }
    use.constructions++;
  }

  /** `getattr(<instance of a class>, '<constant non-dunder name>')` called by REDUCE: a bound method fetch. */
  protected noteBoundMethod(callee: Value, args: Value, opcode: string): void {
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

  protected attachCall(index: number, value: CallValue): void {
    const calls = this.scan.imports[index]!.calls;
    if (calls.length < MAX_CALLS_KEPT) calls.push(render(value));
  }

  protected indexOfPath(path: string | undefined): number | undefined {
    if (!path) return undefined;
    const { module, name } = splitPath(path);
    return this.importIndex.get(`${module}\0${name}`);
  }

  protected noteNested(callee: Value, args: Value): void {
    const path = pathOf(callee);
    if (!path || !this.nestedLoaders.has(path) || args.k !== "tuple") return;
    const payload = args.items[0];
    if (payload?.k === "bytes")
      this.scan.nested.push({
        loader: path,
        at: payload.at,
        length: payload.encoded ? payload.encoded.bytes : payload.length,
        head: payload.head,
        ...(payload.encoded ? { text: payload.encoded.text } : {}),
        ...(callee.k === "global" && args.total === 1 ? { importIndex: callee.importIndex } : {}),
      });
  }

  /** A value that is a module-level object: mutating it changes the loader's process for everyone. */
  protected checkMutation(target: Value, opcode: string, offset: number): void {
    if (target.k === "global")
      this.indicate(
        "pickle.global_mutation",
        `${opcode} modifies the module-level object ${target.module}.${target.name}`,
        offset,
      );
  }
}

/**
 * The bytes of `_codecs.encode(<str>, <Latin-1>)`: the string's code points, each one byte. A code point above 255
 * makes CPython raise UnicodeEncodeError, so a kept head holding one leaves the call as it is (a computed value);
 * one further on is found when the payload is read back (formats/pickle.ts). Only strings whose span in the
 * stream is known qualify.
 */
function latin1Bytes(call: CallValue): BytesValue | undefined {
  const { callee, args } = call;
  const path = pathOf(callee);
  if (!path || !ENCODERS.has(path) || args.k !== "tuple" || args.total !== 2) return undefined;
  const [text, encoding] = args.items;
  const codec = constString(encoding)?.toLowerCase().replace(/[- ]/g, "_");
  if (text?.k !== "str" || !text.src || !codec || !LATIN1_NAMES.has(codec)) return undefined;
  const head = new Uint8Array(text.v.length);
  for (let i = 0; i < text.v.length; i++) {
    const c = text.v.charCodeAt(i);
    if (c > 0xff) return undefined;
    head[i] = c;
  }
  const whole = text.v.length === text.length;
  const length = whole ? head.length : text.src.bytes;
  return { k: "bytes", kind: "bytes", length, head, at: text.src.at, encoded: text.src, spelled: call };
}
