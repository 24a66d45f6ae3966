import { describe, expect, it } from "vitest";
import {
  decodeQuotedString,
  escapeDecode,
  parsePyFloat,
  parsePyInt,
  parsePyIntBase0,
  rawUnicodeEscape,
} from "../src/pickle/text-args.js";

// Expected values are what CPython 3.11 returns for int(x), int(x, 0), float(x), codecs.escape_decode and
// raw-unicode-escape (checked with /usr/bin/python3 when the table was written).
describe("protocol-0 text arguments parse like CPython", () => {
  it("int(x) for GET/PUT", () => {
    expect(parsePyInt("12")).toBe(12n);
    expect(parsePyInt(" 7 ")).toBe(7n);
    expect(parsePyInt("1_000")).toBe(1000n);
    expect(parsePyInt("-3")).toBe(-3n);
    expect(parsePyInt("0x10")).toBeUndefined();
    expect(parsePyInt("1__0")).toBeUndefined();
    expect(parsePyInt("")).toBeUndefined();
  });

  it("int(x, 0) for INT/LONG, including the legacy torch magic written in hex", () => {
    expect(parsePyIntBase0("0x1950A86A20F9469CFC6C")).toBe(0x1950a86a20f9469cfc6cn);
    expect(parsePyIntBase0("0o17")).toBe(15n);
    expect(parsePyIntBase0("0b101")).toBe(5n);
    expect(parsePyIntBase0("000")).toBe(0n);
    expect(parsePyIntBase0("010")).toBeUndefined(); // leading zeros are a SyntaxError in base 0
    expect(parsePyIntBase0("-42")).toBe(-42n);
    expect(parsePyIntBase0("1_2")).toBe(12n);
  });

  it("float(x)", () => {
    expect(parsePyFloat("1.5")).toBe(1.5);
    expect(parsePyFloat("-inf")).toBe(-Infinity);
    expect(parsePyFloat("nan")).toBeNaN();
    expect(parsePyFloat("1e3")).toBe(1000);
    expect(parsePyFloat("abc")).toBeUndefined();
  });

  it("STRING: quoted, escape-decoded", () => {
    const enc = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, "latin1"));
    expect(Buffer.from(decodeQuotedString(enc("'a\\nb'"))!).toString("latin1")).toBe("a\nb");
    expect(Buffer.from(decodeQuotedString(enc('"\\x41\\101"'))!).toString("latin1")).toBe("AA");
    expect(decodeQuotedString(enc("'unterminated"))).toBeUndefined();
    expect(decodeQuotedString(enc("no quotes"))).toBeUndefined();
    expect(Buffer.from(escapeDecode(enc("\\q"))).toString("latin1")).toBe("\\q");
  });

  it("UNICODE: raw-unicode-escape", () => {
    expect(rawUnicodeEscape(Uint8Array.from(Buffer.from("caf\\u00e9", "latin1")))).toBe("café");
    expect(rawUnicodeEscape(Uint8Array.from(Buffer.from("\\U0001d11e", "latin1")))).toBe("𝄞");
    expect(rawUnicodeEscape(Uint8Array.from([0xe9]))).toBe("é");
    expect(rawUnicodeEscape(Uint8Array.from(Buffer.from("\\u12", "latin1")))).toBeUndefined();
  });
});
