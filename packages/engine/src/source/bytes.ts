/** Joins byte arrays into one (without copying when there is only one). */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/**
 * True when `magic` sits at `at` in `bytes`. A plain loop: format sniffers call this for every file of a scan, so it
 * allocates nothing (no rest arguments, closures or subarrays).
 */
export function bytesAt(bytes: Uint8Array, at: number, magic: ArrayLike<number>): boolean {
  if (at < 0 || at + magic.length > bytes.length) return false;
  for (let i = 0; i < magic.length; i++) if (bytes[at + i] !== magic[i]) return false;
  return true;
}
