/**
 * A bounded reader of CPython's `marshal` format, enough to describe a code object without running it: the names
 * it looks up (`co_names`), its local variable names, its string constants and the code objects nested in it.
 * Keras stores Lambda layers this way (`marshal.dumps(func.__code__)`, base64 in the config), and what a report
 * needs is "which names does this bytecode reach" (`__import__`, `system`, `'os'`).
 *
 * The code-object layout changed between Python versions and the bytes do not say which one wrote them, so each
 * known layout is tried and the one that reads the whole input with the right field types wins. Every count,
 * length and nesting level is bounded; a malformed input gives an error message, never an exception or a hang.
 */

/** What a report shows about one code object (and, merged, about the code objects nested in it). */
export interface CodeSummary {
  /** `co_name` of the outermost code object (`<lambda>` for a lambda). */
  name: string;
  filename: string;
  /** Python versions whose code-object layout matched. */
  layout: string;
  /** Bytes of bytecode in this code object and the nested ones. */
  codeBytes: number;
  /** Global and attribute names the bytecode uses (`co_names`), in order of first appearance. */
  names: string[];
  /** Argument and local variable names. */
  varnames: string[];
  /** String and bytes constants, shortened. */
  strings: string[];
  /** Code objects nested in the constants (inner lambdas, comprehensions). */
  nestedCode: number;
}

export interface MarshalLimits {
  /** Objects of all kinds read from one input. */
  maxObjects: number;
  /** Nesting of containers and code objects. */
  maxDepth: number;
  /** Entries in each list of the summary. */
  maxListed: number;
  /** Characters kept of each listed string. */
  maxStringChars: number;
}

export const DEFAULT_MARSHAL_LIMITS: MarshalLimits = {
  maxObjects: 100_000,
  maxDepth: 64,
  maxListed: 32,
  maxStringChars: 80,
};

type Value =
  | null
  | boolean
  | number
  | string
  | { kind: "bytes"; length: number; text: string }
  | { kind: "tuple"; items: Value[] }
  | { kind: "code"; code: CodeParts }
  | { kind: "other" };

interface CodeParts {
  name: string;
  filename: string;
  codeBytes: number;
  consts: Value[];
  names: string[];
  varnames: string[];
}

/** One Python version range's order of code-object fields after the type byte. */
interface Layout {
  label: string;
  /** Raw 32-bit integers (argcount, posonlyargcount, …) before `co_code`. */
  leadingInts: number;
  /** Fields after `co_code`, in order; `int` is a raw 32-bit integer, the rest are marshaled objects. */
  fields: ReadonlyArray<"consts" | "names" | "varnames" | "tuple" | "bytes" | "str" | "name" | "int">;
}

// From CPython's Python/marshal.c (w_complex_object, TYPE_CODE) of each version range.
const LAYOUTS: readonly Layout[] = [
  {
    label: "Python 3.11+",
    leadingInts: 5,
    fields: ["consts", "names", "varnames", "bytes", "str", "name", "str", "int", "bytes", "bytes"],
  },
  {
    label: "Python 3.8-3.10",
    leadingInts: 6,
    fields: ["consts", "names", "varnames", "tuple", "tuple", "str", "name", "int", "bytes"],
  },
  {
    label: "Python 3.0-3.7",
    leadingInts: 5,
    fields: ["consts", "names", "varnames", "tuple", "tuple", "str", "name", "int", "bytes"],
  },
  {
    label: "Python 2",
    leadingInts: 4,
    fields: ["consts", "names", "varnames", "tuple", "tuple", "str", "name", "int", "bytes"],
  },
];

const FLAG_REF = 0x80;
const utf8 = new TextDecoder("utf-8");
const latin1 = new TextDecoder("latin1");

class MarshalError extends Error {}

/** Reads one marshaled object with a given code-object layout. */
class Reader {
  private pos = 0;
  private objects = 0;
  private readonly refs: Value[] = [];
  private readonly interned: string[] = [];

  constructor(
    private readonly bytes: Uint8Array,
    private readonly layout: Layout,
    private readonly limits: MarshalLimits,
  ) {}

  get atEnd(): boolean {
    return this.pos === this.bytes.length;
  }

  private need(n: number): void {
    if (n < 0 || this.pos + n > this.bytes.length) throw new MarshalError(`input ends at byte ${this.bytes.length}`);
  }

  private u8(): number {
    this.need(1);
    return this.bytes[this.pos++]!;
  }

  private i32(): number {
    this.need(4);
    const b = this.bytes;
    const v = b[this.pos]! | (b[this.pos + 1]! << 8) | (b[this.pos + 2]! << 16) | (b[this.pos + 3]! << 24);
    this.pos += 4;
    return v;
  }

  private take(n: number): Uint8Array {
    if (n < 0) throw new MarshalError("negative length");
    this.need(n);
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** Reads an object. Refs are numbered in the order objects start, as CPython's r_ref_reserve does. */
  read(depth = 0): Value {
    if (depth > this.limits.maxDepth) throw new MarshalError(`nesting deeper than ${this.limits.maxDepth}`);
    if (++this.objects > this.limits.maxObjects) throw new MarshalError(`more than ${this.limits.maxObjects} objects`);
    const at = this.pos;
    const byte = this.u8();
    const type = String.fromCharCode(byte & ~FLAG_REF);
    const slot = byte & FLAG_REF ? this.refs.push({ kind: "other" }) - 1 : -1;
    const value = this.readBody(type, depth, at);
    if (slot >= 0) this.refs[slot] = value;
    return value;
  }

  private readBody(type: string, depth: number, at: number): Value {
    switch (type) {
      case "0":
      case "N":
        return null;
      case "F":
        return false;
      case "T":
        return true;
      case "S":
      case ".":
        return { kind: "other" };
      case "i":
        return this.i32();
      case "I":
        this.take(8);
        return { kind: "other" };
      case "g":
        this.take(8);
        return { kind: "other" };
      case "y":
        this.take(16);
        return { kind: "other" };
      case "f":
        this.take(this.u8());
        return { kind: "other" };
      case "x":
        this.take(this.u8());
        this.take(this.u8());
        return { kind: "other" };
      case "l":
        this.take(2 * Math.abs(this.i32()));
        return { kind: "other" };
      case "s":
        return this.bytesValue(this.take(this.i32()));
      case "t": {
        const text = utf8.decode(this.take(this.i32()));
        this.interned.push(text);
        return text;
      }
      case "u":
        return utf8.decode(this.take(this.i32()));
      case "R": {
        // Python 2: a repeat of the n-th interned string.
        const text = this.interned[this.i32()];
        if (text === undefined) throw new MarshalError(`string reference to no interned string at ${at}`);
        return text;
      }
      case "a":
      case "A":
        return latin1.decode(this.take(this.i32()));
      case "z":
      case "Z":
        return latin1.decode(this.take(this.u8()));
      case "r":
        return this.ref();
      case "(":
      case "[":
      case "<":
      case ">":
        return this.sequence(this.i32(), depth);
      case ")":
        return this.sequence(this.u8(), depth);
      case "{":
        return this.dict(depth);
      case ":":
        // Python 3.14 slice: start, stop, step.
        for (let i = 0; i < 3; i++) this.read(depth + 1);
        return { kind: "other" };
      case "c":
        return { kind: "code", code: this.code(depth) };
      default:
        throw new MarshalError(`unknown type byte 0x${type.charCodeAt(0).toString(16)} at ${at}`);
    }
  }

  private bytesValue(raw: Uint8Array): Value {
    return { kind: "bytes", length: raw.length, text: latin1.decode(raw.subarray(0, 256)) };
  }

  private ref(): Value {
    const index = this.i32();
    if (index < 0 || index >= this.refs.length) throw new MarshalError(`reference ${index} to no object`);
    return this.refs[index]!;
  }

  private sequence(count: number, depth: number): Value {
    if (count < 0 || count > this.bytes.length - this.pos) throw new MarshalError(`bad item count ${count}`);
    const items: Value[] = [];
    for (let i = 0; i < count; i++) items.push(this.read(depth + 1));
    return { kind: "tuple", items };
  }

  private dict(depth: number): Value {
    // Key/value pairs up to a NULL key; each step consumes input, so the loop ends with the input.
    for (;;) {
      if (this.pos < this.bytes.length && (this.bytes[this.pos]! & ~FLAG_REF) === 0x30) {
        this.pos++;
        return { kind: "other" };
      }
      this.read(depth + 1);
      this.read(depth + 1);
    }
  }

  private code(depth: number): CodeParts {
    for (let i = 0; i < this.layout.leadingInts; i++) this.i32();
    const bytecode = this.read(depth + 1);
    if (typeof bytecode !== "object" || bytecode?.kind !== "bytes") throw new MarshalError("co_code is not bytes");
    const parts: CodeParts = {
      name: "",
      filename: "",
      codeBytes: bytecode.length,
      consts: [],
      names: [],
      varnames: [],
    };
    for (const field of this.layout.fields) this.codeField(field, parts, depth);
    return parts;
  }

  private codeField(field: Layout["fields"][number], parts: CodeParts, depth: number): void {
    if (field === "int") {
      this.i32();
      return;
    }
    const value = this.read(depth + 1);
    const fail = (): never => {
      throw new MarshalError(`code object field ${field} has the wrong type`);
    };
    if (field === "bytes") {
      // Python 2 may write an empty lnotab as the interned (str) "".
      if (asText(value) === undefined) fail();
    } else if (field === "str" || field === "name") {
      // Python 2 writes co_filename (and sometimes names) as bytes.
      const text = asText(value) ?? fail();
      if (field === "name") parts.name = text;
      else if (!parts.filename) parts.filename = text;
    } else {
      if (typeof value !== "object" || value?.kind !== "tuple") fail();
      const items = (value as { items: Value[] }).items;
      if (field === "consts") parts.consts = items;
      else if (field === "names" || field === "varnames") parts[field] = items.map((v) => asText(v) ?? fail());
    }
  }
}

function asText(value: Value): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value === "object" && value?.kind === "bytes") return value.text;
  return undefined;
}

/**
 * Describes the code object in `bytes` (the output of `marshal.dumps(code)`), or says why it cannot.
 * Only a code object at the top that uses the whole input is accepted.
 */
export function describeMarshaledCode(
  bytes: Uint8Array,
  limits: MarshalLimits = DEFAULT_MARSHAL_LIMITS,
): CodeSummary | string {
  if (bytes.length === 0) return "empty input";
  if ((bytes[0]! & ~FLAG_REF) !== 0x63) return `not a code object (type byte 0x${bytes[0]!.toString(16)})`;
  let firstError = "";
  for (const layout of LAYOUTS) {
    try {
      const reader = new Reader(bytes, layout, limits);
      const value = reader.read();
      if (!reader.atEnd) throw new MarshalError("bytes left after the code object");
      if (typeof value === "object" && value?.kind === "code") return summarize(value.code, layout.label, limits);
    } catch (e) {
      if (!(e instanceof MarshalError)) throw e;
      firstError ||= `${layout.label} layout: ${e.message}`;
    }
  }
  return `no known code-object layout reads it (${firstError})`;
}

/** Merges a code object and those nested in its constants into one summary (breadth-first, bounded). */
function summarize(root: CodeParts, layout: string, limits: MarshalLimits): CodeSummary {
  const names = new Lister(limits);
  const varnames = new Lister(limits);
  const strings = new Lister(limits);
  const summary: CodeSummary = {
    name: root.name,
    filename: root.filename,
    layout,
    codeBytes: 0,
    names: names.items,
    varnames: varnames.items,
    strings: strings.items,
    nestedCode: 0,
  };
  const queue: CodeParts[] = [root];
  // Every code object was read from the bounded input, so the queue holds at most maxObjects entries.
  for (let i = 0; i < queue.length; i++) {
    const code = queue[i]!;
    summary.codeBytes += code.codeBytes;
    code.names.forEach((n) => names.add(n));
    code.varnames.forEach((n) => varnames.add(n));
    collectConsts(code.consts, strings, queue, limits.maxDepth);
  }
  summary.nestedCode = queue.length - 1;
  return summary;
}

function collectConsts(values: Value[], strings: Lister, queue: CodeParts[], depth: number): void {
  if (depth < 0) return;
  for (const value of values) {
    if (typeof value === "string") strings.add(JSON.stringify(value));
    else if (typeof value !== "object" || value === null) continue;
    else if (value.kind === "bytes") strings.add(`b${JSON.stringify(value.text)}`);
    else if (value.kind === "code") queue.push(value.code);
    else if (value.kind === "tuple") collectConsts(value.items, strings, queue, depth - 1);
  }
}

/** A de-duplicated list that keeps the first `maxListed` entries, each shortened. */
class Lister {
  readonly items: string[] = [];
  private readonly seen = new Set<string>();

  constructor(private readonly limits: MarshalLimits) {}

  add(text: string): void {
    const short = text.length > this.limits.maxStringChars ? `${text.slice(0, this.limits.maxStringChars)}…` : text;
    if (this.seen.has(short) || this.items.length >= this.limits.maxListed) return;
    this.seen.add(short);
    this.items.push(short);
  }
}

/** Renders a summary for a finding message. */
export function renderCodeSummary(code: CodeSummary): string {
  const parts = [`function ${code.name || "?"}`, `${code.codeBytes} bytes of bytecode (${code.layout} layout)`];
  if (code.names.length) parts.push(`names: ${code.names.join(", ")}`);
  if (code.strings.length) parts.push(`constants: ${code.strings.join(", ")}`);
  if (code.varnames.length) parts.push(`locals: ${code.varnames.join(", ")}`);
  if (code.nestedCode) parts.push(`${code.nestedCode} nested code object(s)`);
  return parts.join("; ");
}
