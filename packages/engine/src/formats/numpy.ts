import type { ByteSource } from "../source/byte-source.js";
import type { FormatContext, FormatHandler, Probe } from "./types.js";
import { looksLikePickle, recordPickleScan, runPickles } from "./pickle.js";
import { parseTypestr } from "./joblib.js";

/**
 * NumPy `.npy` (format versions 1.0, 2.0, 3.0): magic, version, header length, and a header that is a Python
 * dict literal `{'descr': …, 'fortran_order': …, 'shape': (…)}`. When the dtype holds objects, `np.load(…,
 * allow_pickle=True)` unpickles the rest of the file, so that pickle is scanned; numeric arrays cannot run code and
 * nothing past the header is read. The header is parsed by a small literal parser, never evaluated.
 */

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
/** numpy refuses headers over 10 000 bytes by default; allow_pickle lifts that, so accept more but not unbounded. */
const MAX_HEADER = 1024 * 1024;
/** Nesting of tuples/lists/dicts in a header (structured dtypes nest a few levels). */
const MAX_LITERAL_DEPTH = 32;
/** Items in all containers of one header. */
const MAX_LITERAL_ITEMS = 100_000;

export const npyFormat: FormatHandler = {
  name: "npy",
  exclusive: true,
  sniff: (probe: Probe) => MAGIC.every((b, i) => probe.head[i] === b),
  async inspect(source: ByteSource, ctx: FormatContext): Promise<boolean> {
    const header = await readHeader(source);
    if (typeof header === "string") {
      ctx.indicate("npy.malformed_header", header);
      return true;
    }
    const layout = describeHeader(header.text);
    if (typeof layout === "string") {
      ctx.indicate("npy.malformed_header", `${layout} (header ${JSON.stringify(header.text.slice(0, 120))})`);
      return true;
    }
    if (!layout.hasObjects) return true;
    const scan = await runPickles(source, ctx, header.dataStart, { stopAfter: 1 });
    if (looksLikePickle(scan)) ctx.addFormat("pickle");
    await recordPickleScan(scan, source, ctx);
    return true;
  },
};

/** Reads the header text and where the data starts, or says why it cannot. */
async function readHeader(source: ByteSource): Promise<{ text: string; dataStart: number } | string> {
  const prefix = await source.read(0, 12);
  if (prefix.length < 10) return "file ends inside the .npy preamble";
  const major = prefix[6]!;
  const minor = prefix[7]!;
  if (major < 1 || major > 3 || minor !== 0) return `unsupported .npy format version ${major}.${minor}`;
  const view = new DataView(prefix.buffer, prefix.byteOffset, prefix.length);
  if (major > 1 && prefix.length < 12) return "file ends inside the .npy preamble";
  const length = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  if (length > MAX_HEADER) return `.npy header of ${length} bytes is larger than ${MAX_HEADER}`;
  const bytes = await source.read(start, length);
  if (bytes.length < length) return `file ends inside the .npy header (${bytes.length} of ${length} bytes)`;
  // Versions 1 and 2 store the header in latin-1, version 3 in UTF-8.
  const text = new TextDecoder(major === 3 ? "utf-8" : "latin1").decode(bytes);
  return { text, dataStart: start + length };
}

interface ArrayHeader {
  hasObjects: boolean;
}

/** Checks the header dict the way np.load does (exactly the three keys) and finds object dtypes. */
function describeHeader(text: string): ArrayHeader | string {
  let literal: Literal;
  try {
    literal = new LiteralParser(text).parseAll();
  } catch (e) {
    return e instanceof LiteralError
      ? `header is not a Python literal: ${e.message}`
      : "header is not a Python literal";
  }
  if (literal.t !== "dict") return "header is not a dict";
  const keys = new Map<string, Literal>();
  for (const [key, value] of literal.entries) {
    if (key.t !== "str") return "header has a key that is not a string";
    keys.set(key.v, value);
  }
  if (keys.size !== 3 || !keys.has("descr") || !keys.has("fortran_order") || !keys.has("shape"))
    return `header keys are ${JSON.stringify([...keys.keys()])}, not descr, fortran_order and shape`;
  if (keys.get("fortran_order")!.t !== "bool") return "fortran_order is not a bool";
  const shape = keys.get("shape")!;
  if (shape.t !== "seq" || shape.items.some((d) => d.t !== "int" || d.v < 0n)) return "shape is not a tuple of sizes";
  const objects = descrHasObjects(keys.get("descr")!, 0);
  if (typeof objects === "string") return objects;
  return { hasObjects: objects };
}

/**
 * A descr is a type string (`'<f8'`, `'|O'`) or, for structured arrays, a list of `(name, descr[, shape])` where
 * the name may be a `(title, name)` pair and the descr may itself be a list.
 */
function descrHasObjects(descr: Literal, depth: number): boolean | string {
  if (depth > MAX_LITERAL_DEPTH) return "descr nested too deeply";
  if (descr.t === "str") {
    const parsed = parseTypestr(descr.v);
    if (!parsed) return `unknown dtype ${JSON.stringify(descr.v.slice(0, 40))}`;
    return parsed.kind === "O";
  }
  if (descr.t !== "seq" || descr.kind !== "list") return "descr is neither a type string nor a list of fields";
  let objects = false;
  for (const field of descr.items) {
    if (field.t !== "seq" || field.items.length < 2 || field.items.length > 3) return "a descr field is not a tuple";
    const inner = descrHasObjects(field.items[1]!, depth + 1);
    if (typeof inner === "string") return inner;
    objects ||= inner;
  }
  return objects;
}

// ---- a Python literal parser (the subset ast.literal_eval accepts in .npy headers) ----

type Literal =
  | { t: "str"; v: string }
  | { t: "int"; v: bigint }
  | { t: "bool"; v: boolean }
  | { t: "none" }
  | { t: "seq"; kind: "tuple" | "list"; items: Literal[] }
  | { t: "dict"; entries: Array<[Literal, Literal]> };

class LiteralError extends Error {}

const ESCAPES: Record<string, string> = { n: "\n", t: "\t", r: "\r", "0": "\0", "\\": "\\", "'": "'", '"': '"' };

class LiteralParser {
  private pos = 0;
  private items = 0;

  constructor(private readonly text: string) {}

  parseAll(): Literal {
    const value = this.value(0);
    this.space();
    if (this.pos !== this.text.length) this.error("unexpected text after the literal");
    return value;
  }

  private error(message: string): never {
    throw new LiteralError(`${message} at ${this.pos}`);
  }

  private space(): void {
    while (this.pos < this.text.length && " \t\r\n".includes(this.text[this.pos]!)) this.pos++;
  }

  private value(depth: number): Literal {
    if (depth > MAX_LITERAL_DEPTH) this.error("nested too deeply");
    if (++this.items > MAX_LITERAL_ITEMS) this.error("too many items");
    this.space();
    const c = this.text[this.pos];
    if (c === "{") return this.dict(depth);
    if (c === "(") return this.sequence("tuple", ")", depth);
    if (c === "[") return this.sequence("list", "]", depth);
    if (c === "'" || c === '"') return { t: "str", v: this.string() };
    if ((c === "b" || c === "u") && (this.text[this.pos + 1] === "'" || this.text[this.pos + 1] === '"')) {
      this.pos++;
      return { t: "str", v: this.string() };
    }
    const word = /^(True|False|None|[-+]?\d+L?)/.exec(this.text.slice(this.pos, this.pos + 64))?.[0];
    if (word === undefined) this.error("unexpected character");
    this.pos += word.length;
    if (word === "True" || word === "False") return { t: "bool", v: word === "True" };
    if (word === "None") return { t: "none" };
    return { t: "int", v: BigInt(word.replace(/L$/, "")) };
  }

  private string(): string {
    const quote = this.text[this.pos++]!;
    let out = "";
    for (;;) {
      if (this.pos >= this.text.length) this.error("unterminated string");
      const c = this.text[this.pos++]!;
      if (c === quote) return out;
      if (c !== "\\") {
        out += c;
        continue;
      }
      const e = this.text[this.pos++];
      if (e === "x") {
        const hex = this.text.slice(this.pos, this.pos + 2);
        if (!/^[0-9a-fA-F]{2}$/.test(hex)) this.error("bad \\x escape");
        out += String.fromCharCode(parseInt(hex, 16));
        this.pos += 2;
      } else if (e !== undefined && ESCAPES[e] !== undefined) {
        out += ESCAPES[e];
      } else {
        this.error("unsupported escape");
      }
    }
  }

  private sequence(kind: "tuple" | "list", close: string, depth: number): Literal {
    this.pos++;
    const items: Literal[] = [];
    let trailingComma = false;
    for (;;) {
      this.space();
      if (this.text[this.pos] === close) {
        this.pos++;
        break;
      }
      if (items.length > 0 && !trailingComma) this.error(`expected ',' or '${close}'`);
      items.push(this.value(depth + 1));
      this.space();
      trailingComma = this.text[this.pos] === ",";
      if (trailingComma) this.pos++;
    }
    // (x) without a comma is just x in Python.
    if (kind === "tuple" && items.length === 1 && !trailingComma) return items[0]!;
    return { t: "seq", kind, items };
  }

  private dict(depth: number): Literal {
    this.pos++;
    const entries: Array<[Literal, Literal]> = [];
    let trailingComma = false;
    for (;;) {
      this.space();
      if (this.text[this.pos] === "}") {
        this.pos++;
        return { t: "dict", entries };
      }
      if (entries.length > 0 && !trailingComma) this.error("expected ',' or '}'");
      const key = this.value(depth + 1);
      this.space();
      if (this.text[this.pos] !== ":") this.error("expected ':'");
      this.pos++;
      entries.push([key, this.value(depth + 1)]);
      this.space();
      trailingComma = this.text[this.pos] === ",";
      if (trailingComma) this.pos++;
    }
  }
}
