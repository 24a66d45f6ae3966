/**
 * Symbolic values of the pickle machine. Constants are kept small (long strings and byte payloads are kept as
 * a short head plus their length); containers keep their first items only. Globals and calls are references that
 * the report can render as the Python the loader would run.
 */
export type Value =
  | { readonly k: "none" }
  | { readonly k: "bool"; readonly v: boolean }
  | { readonly k: "int"; readonly v: number | bigint }
  | { readonly k: "float"; readonly v: number }
  | StrValue
  | BytesValue
  | SeqValue
  | DictValue
  | GlobalValue
  | CallValue
  | { readonly k: "opaque"; readonly what: string };

export interface StrValue {
  readonly k: "str";
  /** The text, cut at the keep limit when `length` is larger. */
  readonly v: string;
  readonly length: number;
  /** Where the whole text lies in the stream, so a payload spelled as text can be read back in full. */
  readonly src?: TextSpan;
}

/** The stream bytes of a string operand and how the loader decodes them to text. */
export interface TextSpan {
  readonly at: number;
  readonly bytes: number;
  /** BINUNICODE* are UTF-8; protocol 0's UNICODE line is raw-unicode-escape. */
  readonly text: "utf8" | "raw-unicode-escape";
}

export interface BytesValue {
  readonly k: "bytes";
  readonly kind: "bytes" | "bytearray" | "str8"; // str8: a protocol-0/1 STRING, bytes on Python 2
  readonly length: number;
  /** The first bytes, for rendering and sniffing. */
  readonly head: Uint8Array;
  /** Absolute offset of the payload in the stream, for a nested scan. */
  readonly at: number;
  /**
   * Set when the bytes are `_codecs.encode(<str>, 'latin1')` (how protocols 0–2 spell bytes): the stream holds
   * the text at this span, and the bytes are its code points. `at` is then `encoded.at` and `length` the text's
   * length in the stream (an upper bound of the byte count).
   */
  readonly encoded?: TextSpan;
  /** The call that made these bytes, rendered in its place (the report shows what the file spells). */
  readonly spelled?: CallValue;
}

export interface SeqValue {
  readonly k: "list" | "tuple" | "set" | "frozenset";
  readonly items: Value[];
  /** Items added in all, including those not kept. */
  total: number;
}

export interface DictValue {
  readonly k: "dict";
  readonly entries: Array<[Value, Value]>;
  total: number;
}

export interface GlobalValue {
  readonly k: "global";
  readonly module: string;
  readonly name: string;
  /** Index of the import in the inventory. */
  readonly importIndex: number;
}

export interface CallValue {
  readonly k: "call";
  readonly callee: Value;
  readonly args: Value;
  readonly kwargs?: Value;
  readonly opcode: string;
  readonly offset: number;
  /** The dotted path this call evaluates to, when constants tell (`getattr(__import__('os'), 'system')`). */
  readonly resolved?: string;
}

export const NONE: Value = { k: "none" };
export const KEEP_ITEMS = 32;

export function str(v: string, length = v.length, src?: TextSpan): StrValue {
  return src ? { k: "str", v, length, src } : { k: "str", v, length };
}

export function opaque(what: string): Value {
  return { k: "opaque", what };
}

/**
 * An opaque value whose description is rendered only when something shows it. A checkpoint has one per storage
 * (hundreds), and almost none is ever rendered: only the first calls of each import are kept as text.
 */
export function lazyOpaque(describe: () => string): Value {
  let what: string | undefined;
  return {
    k: "opaque",
    get what() {
      return (what ??= describe());
    },
  };
}

/** Adds an item to a kept container, remembering only the first KEEP_ITEMS. */
export function pushItem(seq: SeqValue, item: Value): void {
  if (seq.items.length < KEEP_ITEMS) seq.items.push(item);
  seq.total++;
}

export function setEntry(dict: DictValue, key: Value, value: Value): void {
  if (dict.entries.length < KEEP_ITEMS) dict.entries.push([key, value]);
  dict.total++;
}

/** The string a value stands for, when it is a whole (uncut) constant string. */
export function constString(v: Value | undefined): string | undefined {
  if (v?.k === "str" && v.v.length === v.length) return v.v;
  if (v?.k === "bytes" && v.kind === "str8" && v.head.length === v.length) return latin1(v.head);
  return undefined;
}

/** The dotted path a value refers to: a global, or a call that resolved to one. */
export function pathOf(v: Value | undefined): string | undefined {
  if (v?.k === "global") return `${v.module}.${v.name}`;
  if (v?.k === "call") return v.resolved;
  return undefined;
}

function latin1(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return s;
}

/** Python-like source for a value, bounded in depth and length (values may be shared or cyclic). */
export function render(v: Value, maxChars = 200): string {
  const out = renderDepth(v, 4);
  return out.length > maxChars ? out.slice(0, maxChars - 1) + "…" : out;
}

function renderDepth(v: Value, depth: number): string {
  if (depth < 0) return "…";
  switch (v.k) {
    case "none":
      return "None";
    case "bool":
      return v.v ? "True" : "False";
    case "int":
      return v.v.toString();
    case "float":
      return Number.isFinite(v.v) ? String(v.v) : v.v > 0 ? "inf" : v.v < 0 ? "-inf" : "nan";
    case "str":
      return pyStr(v.v) + (v.length > v.v.length ? `…(${v.length} chars)` : "");
    case "bytes":
      return v.spelled ? renderCall(v.spelled, depth) : renderBytes(v);
    case "list":
      return `[${items(v.items, v.total, depth)}]`;
    case "tuple":
      return v.total === 1 ? `(${items(v.items, v.total, depth)},)` : `(${items(v.items, v.total, depth)})`;
    case "set":
      return v.total === 0 ? "set()" : `{${items(v.items, v.total, depth)}}`;
    case "frozenset":
      return `frozenset({${items(v.items, v.total, depth)}})`;
    case "dict": {
      const parts = v.entries.map(([k, val]) => `${renderDepth(k, depth - 1)}: ${renderDepth(val, depth - 1)}`);
      if (v.total > v.entries.length) parts.push("…");
      return `{${parts.join(", ")}}`;
    }
    case "global":
      return `${v.module}.${v.name}`;
    case "call":
      return renderCall(v, depth);
    case "opaque":
      return `<${v.what}>`;
  }
}

function renderCall(v: CallValue, depth: number): string {
  const callee = renderDepth(v.callee, depth - 1);
  if (v.opcode === "BUILD") return `${callee}.__setstate__(${renderDepth(v.args, depth - 1)})`;
  const args = v.args.k === "tuple" ? items(v.args.items, v.args.total, depth) : `*${renderDepth(v.args, depth - 1)}`;
  const kwargs = v.kwargs ? `, **${renderDepth(v.kwargs, depth - 1)}` : "";
  return `${callee}(${args}${kwargs})`;
}

function items(list: Value[], total: number, depth: number): string {
  const parts = list.map((x) => renderDepth(x, depth - 1));
  if (total > list.length) parts.push(`…(${total - list.length} more)`);
  return parts.join(", ");
}

function renderBytes(v: BytesValue): string {
  // STRING/BINSTRING load as str on Python 3 (decoded as ASCII by default).
  if (v.kind === "str8") return pyStr(latin1(v.head)) + (v.length > v.head.length ? `…(${v.length} chars)` : "");
  const shown = v.head.subarray(0, 48);
  let s = "";
  for (const b of shown) {
    if (b === 0x5c) s += "\\\\";
    else if (b === 0x27) s += "\\'";
    else if (b >= 0x20 && b < 0x7f) s += String.fromCharCode(b);
    else s += "\\x" + b.toString(16).padStart(2, "0");
  }
  const more = v.length > shown.length ? `…(${v.length} bytes)` : "";
  const body = `b'${s}'${more}`;
  return v.kind === "bytearray" ? `bytearray(${body})` : body;
}

function pyStr(s: string): string {
  let out = "'";
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === "'") out += "\\'";
    else if (ch === "\\") out += "\\\\";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (c < 0x20 || c === 0x7f) out += "\\x" + c.toString(16).padStart(2, "0");
    else out += ch;
  }
  return out + "'";
}
