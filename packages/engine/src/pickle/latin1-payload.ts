/**
 * The bytes of `_codecs.encode(<str>, 'latin1')` read back from the string's bytes in the stream: protocols 0–2
 * spell a `bytes` value so, and a nested pickle handed to a loader this way is read like a BINBYTES payload.
 * Returns undefined where the loader itself fails: a string that does not decode, or a code point above 255
 * (CPython's UnicodeEncodeError).
 */
export function latin1PayloadBytes(raw: Uint8Array, text: "utf8" | "raw-unicode-escape"): Uint8Array | undefined {
  return text === "utf8" ? fromUtf8(raw) : fromRawUnicodeEscape(raw);
}

/** UTF-8 holding only code points ≤ 255: ASCII bytes, and two-byte sequences led by 0xC2 or 0xC3. */
function fromUtf8(raw: Uint8Array): Uint8Array | undefined {
  const out = new Uint8Array(raw.length);
  let n = 0;
  for (let i = 0; i < raw.length; i++) {
    const b = raw[i]!;
    if (b < 0x80) out[n++] = b;
    else if ((b === 0xc2 || b === 0xc3) && i + 1 < raw.length && (raw[i + 1]! & 0xc0) === 0x80)
      out[n++] = ((b & 0x1f) << 6) | (raw[++i]! & 0x3f);
    else return undefined; // a code point above 255, or bytes that are not UTF-8 at all
  }
  return out.subarray(0, n);
}

const HEX = /^[0-9a-fA-F]+$/;

/**
 * raw-unicode-escape as CPython decodes it: a backslash and the byte after it are taken as a pair, and the pair
 * `\u`/`\U` starts a 4/8-digit escape; every other byte is its own code point.
 */
function fromRawUnicodeEscape(raw: Uint8Array): Uint8Array | undefined {
  const out = new Uint8Array(raw.length);
  let n = 0;
  for (let i = 0; i < raw.length; i++) {
    const b = raw[i]!;
    if (b !== 0x5c || i + 1 >= raw.length) {
      out[n++] = b;
      continue;
    }
    const next = raw[++i]!;
    if (next !== 0x75 && next !== 0x55) {
      out[n++] = b;
      out[n++] = next;
      continue;
    }
    const digits = next === 0x75 ? 4 : 8;
    const hex = String.fromCharCode(...raw.subarray(i + 1, i + 1 + digits));
    if (hex.length !== digits || !HEX.test(hex)) return undefined;
    const cp = parseInt(hex, 16);
    if (cp > 0xff) return undefined;
    out[n++] = cp;
    i += digits;
  }
  return out.subarray(0, n);
}
