import { CallResolver } from "./calls.js";
import { NEED_MORE } from "./state.js";
import { opaque, str, type BytesValue, type Value } from "./values.js";

/** Bytes kept of a BYTES/BINBYTES payload (enough to sniff a nested pickle). */
const HEAD_BYTES = 64;
export const latin1 = new TextDecoder("latin1");
export const lenientUtf8 = new TextDecoder("utf-8");
/** A dotted name as Python spells modules (ASCII letters, digits, underscores; non-ASCII bytes allowed as letters). */
export const IDENTIFIER_BYTES = /^[A-Za-z_\x80-\xff][\w\x80-\xff]*(\.[A-Za-z_\x80-\xff][\w\x80-\xff]*)*$/;

/**
 * Operand readers: the lines and length-prefixed payloads that follow opcodes, read synchronously from the
 * buffered bytes, with long text lines and large payloads kept only as heads.
 */
export abstract class OperandReader extends CallResolver {
  // ---- argument readers: synchronous over buffered bytes ----
  //
  // An opcode reads all its arguments before it changes any state. When the bytes are not buffered yet, a reader
  // throws NEED_MORE; the driver rewinds to the opcode, buffers more and runs the opcode again. So the common case
  // runs without a promise per opcode, and only buffer edges pay for the await.

  protected need(n: number): void {
    if (this.r.available < n) {
      NEED_MORE.bytes = this.r.offset - this.opStart + n;
      throw NEED_MORE;
    }
  }

  protected line(at: number, name: string): Uint8Array {
    const bytes = this.lineOrHead();
    if (bytes === undefined)
      this.fail("pickle.limit", `${name} argument longer than maxLine (${this.limits.maxLine} bytes)`, at);
    return bytes;
  }

  /**
   * A number or string line, however long (up to maxLongLine): lines up to maxLine are returned whole; a longer
   * one returns its first maxLine bytes with `long` set, and the driver skips the rest through the newline.
   */
  protected valueLine(): { bytes: Uint8Array; long: boolean } {
    const bytes = this.lineOrHead();
    if (bytes !== undefined) return { bytes, long: false };
    this.pendingLine = true;
    return { bytes: this.r.take(this.limits.maxLine).slice(), long: true };
  }

  /** The next line without its newline, or undefined when more than maxLine bytes come before the newline. */
  protected lineOrHead(): Uint8Array | undefined {
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
  protected payload(length: number, keep: number): { head: Uint8Array; start: number } {
    const kept = Math.min(length, keep);
    this.need(kept);
    const start = this.r.offset;
    const head = this.r.take(kept).slice();
    this.pendingSkip = length - kept;
    return { head, start };
  }

  protected stringValue(length: number): Value {
    const keepBytes = this.limits.maxStringKept * 4;
    const { head, start } = this.payload(length, keepBytes);
    const text = lenientUtf8.decode(head);
    const src = { at: start, bytes: length, text: "utf8" } as const;
    if (length <= keepBytes && text.length <= this.limits.maxStringKept) return str(text, text.length, src);
    return str(text.slice(0, this.limits.maxStringKept), Math.max(length, text.length), src);
  }

  protected bytesValue(length: number, kind: BytesValue["kind"]): BytesValue {
    const keep = kind === "str8" ? this.limits.maxStringKept : HEAD_BYTES;
    const { head, start } = this.payload(length, keep);
    return { k: "bytes", kind, length, head, at: start };
  }

  protected checkLength(length: number, at: number, name: string): void {
    if (length < 0) this.fail("pickle.invalid_argument", `${name} with negative length ${length}`, at);
    if (!Number.isSafeInteger(length)) this.truncated(at, `${name} (declared length beyond any file)`);
  }

  /**
   * A GLOBAL/INST module line. One longer than maxLine whose head is shaped like a module name is an import the
   * loader attempts, so it counts as one before the limit ends the scan (a finding, not "not a pickle").
   */
  protected importLine(at: number, name: string): Uint8Array {
    const bytes = this.lineOrHead();
    if (bytes !== undefined) return bytes;
    const head = this.r.take(this.limits.maxLine);
    if (!IDENTIFIER_BYTES.test(latin1.decode(head)))
      this.fail("pickle.invalid_argument", `${name} module name is not a Python name`, at);
    this.scan.importAttempts++;
    return this.fail("pickle.limit", `${name} argument longer than maxLine (${this.limits.maxLine} bytes)`, at);
  }

  /** INT/LONG/FLOAT text longer than maxLine: digits (CPython >= 3.11 refuses over 4300, older ones parse it). */
  protected pushLongNumber(head: Uint8Array, at: number, name: string): string {
    const text = latin1.decode(head);
    if (!/^\s*[-+]?[0-9_.eE]*$/.test(text))
      this.fail("pickle.invalid_argument", `${name} with argument ${JSON.stringify(text.slice(0, 40))}`, at);
    this.push(opaque(`number of more than ${head.length} digits`));
    return `${text.slice(0, 40)}…`;
  }

  /** A STRING line longer than maxLine: quoted like any STRING; only its head is kept. */
  protected pushLongString(head: Uint8Array, at: number): string {
    const quote = head[0];
    if (quote !== 0x27 && quote !== 0x22) this.fail("pickle.invalid_argument", "STRING argument is not quoted", at);
    const kept = head.subarray(1, 1 + this.limits.maxStringKept).slice();
    this.push({ k: "bytes", kind: "str8", length: head.length - 1, head: kept, at: at + 2 });
    return latin1.decode(kept);
  }

  /** Skips the rest of a long value line through its newline, within maxLongLine. */
  protected async skipRestOfLine(at: number, name: string): Promise<void> {
    const max = this.limits.maxLongLine;
    const skipped = await this.r.skipThrough(0x0a, Math.max(0, max - this.limits.maxLine));
    if (skipped === "end") this.truncated(at, name);
    if (skipped === "limit") this.fail("pickle.limit", `${name} argument longer than maxLongLine (${max} bytes)`, at);
  }
}
