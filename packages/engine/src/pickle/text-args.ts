/**
 * Parsing of the text arguments of protocol-0 opcodes, the way CPython's unpickler reads them: `int(x, 0)` for
 * INT/LONG, `int(x)` for GET/PUT, quoted escape-decoded STRING, raw-unicode-escape UNICODE.
 */

const DECIMAL = /^[+-]?\d+(?:_\d+)*$/;

/** Python's int(text) (base 10) after stripping whitespace; undefined where Python raises ValueError. */
export function parsePyInt(text: string): bigint | undefined {
  const t = text.trim();
  if (!DECIMAL.test(t)) return undefined;
  return BigInt(t.replace(/_/g, ""));
}

/** Python's int(text, 0): decimal without leading zeros, or 0x / 0o / 0b prefixed, underscores between digits. */
export function parsePyIntBase0(text: string): bigint | undefined {
  const t = text.trim();
  const m = /^([+-]?)(0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+|0+(?:_?0)*|[1-9](?:_?\d)*)$/.exec(t);
  if (!m) return undefined;
  const sign = m[1] === "-" ? -1n : 1n;
  const body = m[2]!.replace(/_/g, "");
  const prefix = body.slice(0, 2).toLowerCase();
  const value = prefix === "0x" || prefix === "0o" || prefix === "0b" ? BigInt(prefix + body.slice(2)) : BigInt(body);
  return sign * value;
}

/** Python's float(text); undefined where Python raises. */
export function parsePyFloat(text: string): number | undefined {
  const t = text.trim().replace(/_/g, "");
  if (/^[+-]?(inf|infinity)$/i.test(t)) return t.startsWith("-") ? -Infinity : Infinity;
  if (/^[+-]?nan$/i.test(t)) return NaN;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t)) return undefined;
  return Number(t);
}

/** STRING argument: must be quoted with matching quotes; the body is escape-decoded to bytes. */
export function decodeQuotedString(raw: Uint8Array): Uint8Array | undefined {
  if (raw.length < 2) return undefined;
  const q = raw[0];
  if ((q !== 0x22 && q !== 0x27) || raw[raw.length - 1] !== q) return undefined;
  return escapeDecode(raw.subarray(1, raw.length - 1));
}

/** codecs.escape_decode: backslash escapes of Python bytes literals. */
export function escapeDecode(body: Uint8Array): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== 0x5c || i + 1 >= body.length) {
      out.push(c);
      continue;
    }
    const e = body[++i]!;
    const simple: Record<number, number> = {
      0x6e: 10,
      0x74: 9,
      0x72: 13,
      0x27: 39,
      0x22: 34,
      0x5c: 92,
      0x61: 7,
      0x62: 8,
      0x66: 12,
      0x76: 11,
    };
    if (e === 0x0a) continue; // backslash-newline: line continuation
    if (simple[e] !== undefined) out.push(simple[e]);
    else if (e === 0x78 && i + 2 < body.length + 0 && isHex(body[i + 1]) && isHex(body[i + 2])) {
      out.push(parseInt(String.fromCharCode(body[i + 1]!, body[i + 2]!), 16));
      i += 2;
    } else if (e >= 0x30 && e <= 0x37) {
      let v = e - 0x30;
      for (let n = 0; n < 2 && i + 1 < body.length && body[i + 1]! >= 0x30 && body[i + 1]! <= 0x37; n++)
        v = v * 8 + (body[++i]! - 0x30);
      out.push(v & 0xff);
    } else out.push(0x5c, e);
  }
  return Uint8Array.from(out);
}

function isHex(c: number | undefined): boolean {
  return c !== undefined && ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66));
}

/** raw-unicode-escape: bytes are Latin-1 code points, except \uXXXX and \UXXXXXXXX escapes. */
export function rawUnicodeEscape(raw: Uint8Array): string | undefined {
  let s = "";
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c === 0x5c && i + 1 < raw.length && (raw[i + 1] === 0x75 || raw[i + 1] === 0x55)) {
      // An odd run of backslashes before u/U starts an escape; CPython checks that, we follow the common case.
      const digits = raw[i + 1] === 0x75 ? 4 : 8;
      const hex = String.fromCharCode(...raw.subarray(i + 2, i + 2 + digits));
      if (hex.length !== digits || !/^[0-9a-fA-F]+$/.test(hex)) return undefined;
      const cp = parseInt(hex, 16);
      if (cp > 0x10ffff) return undefined;
      s += String.fromCodePoint(cp);
      i += 1 + digits;
    } else s += String.fromCharCode(c);
  }
  return s;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Strict UTF-8 (as Python's .decode('utf-8')); undefined on invalid input. Lone surrogates count as invalid. */
export function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/** ASCII only (PERSID); undefined otherwise. */
export function decodeAscii(bytes: Uint8Array): string | undefined {
  for (const b of bytes) if (b > 0x7f) return undefined;
  return String.fromCharCode(...bytes);
}
