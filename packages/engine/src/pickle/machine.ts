import { OPCODES } from "./opcodes.js";
import { IDENTIFIER_BYTES, OperandReader, latin1, lenientUtf8 } from "./operands.js";
import type { PickleOptions, PickleScan } from "./scan-types.js";
import { decodeLong, int, isNonStrConstant, NEED_MORE, persistentValue, sequence, Stop } from "./state.js";
import {
  decodeAscii,
  decodeQuotedString,
  decodeUtf8,
  parsePyFloat,
  parsePyInt,
  parsePyIntBase0,
  rawUnicodeEscape,
} from "./text-args.js";
import { NONE, constString, opaque, pushItem, render, setEntry, str, type DictValue, type Value } from "./values.js";
import type { ByteReader } from "../source/byte-reader.js";

export * from "./scan-types.js";
export { splitPath } from "./resolve.js";

const TRUE: Value = { k: "bool", v: true };
const FALSE: Value = { k: "bool", v: false };
/** LONG1/LONG4 values up to this many bytes are decoded (8192-bit integers); longer ones are skipped. */
const MAX_LONG_BYTES = 1024;

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

/** The opcode stepping: the driver loop over a stream's pickles and one case per opcode. */
class Machine extends OperandReader {
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

  /** Runs one pickle to its STOP. Returns false when it broke off (the finding is recorded). */
  protected async runOne(): Promise<boolean> {
    this.stack = [];
    this.marks = [];
    this.memoDense = [];
    this.memoSparse = new Map();
    this.memoCount = 0;
    this.farMemoReported = false;
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

  // ---- the loop ----

  protected async loop(): Promise<void> {
    const r = this.r;
    const trace = this.options.trace;
    const maxOpcodes = this.limits.maxOpcodes;
    for (;;) {
      // Only buffer edges await; near the end of a fully buffered input there is nothing more to wait for.
      if (r.available < 16 && !r.inputEnded) await r.fill(16);
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

  /** Executes one opcode; returns its decoded argument (for tracing). */
  protected step(op: number, at: number, name: string): unknown {
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
        const src = { at: at + 1, bytes: raw.length, text: "raw-unicode-escape" } as const;
        this.push(
          text.length > this.limits.maxStringKept
            ? str(text.slice(0, this.limits.maxStringKept), text.length, src)
            : str(text, text.length, src),
        );
        return text;
      }
      case 0x8c /* SHORT_BINUNICODE */: {
        this.need(1);
        const n = r.u8();
        if (n <= r.available && n <= this.limits.maxStringKept) {
          const start = r.offset;
          const text = lenientUtf8.decode(r.take(n));
          const v = str(text, text.length, { at: start, bytes: n, text: "utf8" });
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
        this.checkMemoIndex(key, at, name);
        if (op === 0x67) this.memoGet(key, at);
        else this.memoPut(key, at);
        return index;
      }
      case 0x68 /* h BINGET */:
      case 0x71 /* q BINPUT */: {
        this.need(1);
        const index = r.u8();
        this.checkMemoIndex(index, at, name);
        if (op === 0x68) this.memoGet(index, at);
        else this.memoPut(index, at);
        return index;
      }
      case 0x6a /* j LONG_BINGET */:
      case 0x72 /* r LONG_BINPUT */: {
        this.need(4);
        const index = r.u32();
        this.checkMemoIndex(index, at, name);
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
        this.notePartialState(target, state);
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

  protected appendTo(target: Value, items: Value[], opcode: string, at: number): void {
    if (target.k === "list" || target.k === "set") for (const item of items) pushItem(target, item);
    else this.checkMutation(target, opcode, at);
  }

  protected setItems(target: Value, items: Value[], opcode: string, at: number): void {
    if (target.k === "dict") {
      for (let i = 0; i + 1 < items.length; i += 2) setEntry(target, items[i]!, items[i + 1]!);
    } else this.checkMutation(target, opcode, at);
  }
}
