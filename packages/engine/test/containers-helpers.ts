import { open } from "node:fs/promises";
import { concatBytes } from "../src/source/bytes.js";
export { concatBytes };
import { join } from "node:path";
import { crc32 } from "node:zlib";
import { FIXTURES, HAVE_SHARED } from "./helpers.js";
export { HAVE_SHARED };
import { scanPaths, type FileSecurityReport, type ScanLimits, type ScanReport } from "../src/index.js";

/** Fixtures written by fixtures/containers/generate_zip.py. */
export const CONTAINERS = join(FIXTURES, "containers");
/** The severities of this reader's indicators, layered on the built-in pack until the lead lists the file. */
export const ZIP_INDICATORS = join(import.meta.dirname, "..", "rules", "indicators-zip.json");

export interface Scanned {
  report: ScanReport;
  severity: number;
  /** `module.name` of every non-Pass import. */
  globals: string[];
  /** Indicator ids (any severity). */
  indicators: string[];
  file: FileSecurityReport | undefined;
  formats: string[];
  bytesRead: number;
}

/** Scans one file with the built-in pack (plus this reader's indicator severities). */
export async function scanFile(path: string, limits?: Partial<ScanLimits>): Promise<Scanned> {
  const report = await scanPaths([path], { rulesFiles: [ZIP_INDICATORS], ...(limits ? { limits } : {}) });
  const file = report.file_security_reports[0];
  const scanned = report.scanned_files[0]!;
  return {
    report,
    severity: scanned.severity,
    globals: (file?.unsafe_dependencies ?? []).map((d) => `${d.module}.${d.name}`),
    indicators: (file?.indicators ?? []).map((i) => i.id),
    file,
    formats: scanned.formats,
    bytesRead: scanned.bytes_read,
  };
}

export function scanFixture(name: string, limits?: Partial<ScanLimits>): Promise<Scanned> {
  return scanFile(join(CONTAINERS, name), limits);
}

/** Members where a global was found. */
export function membersOf(scanned: Scanned, global: string): string[] {
  const dep = scanned.file?.unsafe_dependencies.find((d) => `${d.module}.${d.name}` === global);
  return (dep?.locations ?? []).map((l) => l.member ?? "");
}

// ---- payloads (opcode bytes; never unpickled) ----

const latin1 = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));

export function binunicode(text: string): Uint8Array {
  const body = new TextEncoder().encode(text);
  const head = new Uint8Array(5);
  head[0] = 0x58;
  new DataView(head.buffer).setUint32(1, body.length, true);
  return concatBytes(head, body);
}

/** `posix.system('echo modelvet-test')` then POP: runs and leaves the stack as it was (fickling-style). */
export const SYSTEM_CALL = concatBytes(latin1("cposix\nsystem\n"), binunicode("echo modelvet-test"), latin1("\x85R0"));

/** A protocol-2 pickle: the payload, then `{'w<i>': <persistent storage i>}` for every storage (BINPERSID). */
export function checkpointPickle(storages: number): Uint8Array {
  const parts: Uint8Array[] = [latin1("\x80\x02"), SYSTEM_CALL, latin1("}(")];
  for (let i = 0; i < storages; i++)
    parts.push(
      binunicode(`w${i}`),
      latin1("("),
      binunicode("storage"),
      latin1("ctorch\nFloatStorage\n"),
      binunicode(String(i)),
      binunicode("cpu"),
      latin1("K\x10tQ"),
    );
  parts.push(latin1("u."));
  return concatBytes(...parts);
}

// ---- a zip writer laid out like torch.save (stored, 64-byte aligned data, data descriptors) ----

export interface ZipSpec {
  name: string;
  /** Bytes of a small entry. */
  data?: Uint8Array;
  /** Size of a big entry whose bytes are left as a hole (zeros) of a sparse file. */
  sparseSize?: number;
  method?: number;
  /** Compressed bytes when they differ from `data` (deflate). */
  stored?: Uint8Array;
  /** Uncompressed size written in the records instead of the real one (a declared bomb). */
  declaredSize?: number;
}

/**
 * Writes a zip with positioned writes, leaving big entries as holes, so a multi-GiB checkpoint costs a few
 * KiB of disk. With `zip64`, every central record and the end records use the ZIP64 forms (as miniz writes past
 * 4 GiB).
 */
export async function writeZip(path: string, specs: ZipSpec[], options: { zip64?: boolean } = {}): Promise<number> {
  const file = await open(path, "w");
  try {
    let at = 0;
    const central: Uint8Array[] = [];
    for (const spec of specs) {
      const name = new TextEncoder().encode(spec.name);
      const body = spec.stored ?? spec.data ?? new Uint8Array(0);
      const size = spec.sparseSize ?? body.length;
      const uncompressed = spec.declaredSize ?? spec.data?.length ?? size;
      const crc = spec.data ? crc32(spec.data) : 0;
      const pad = (64 - ((at + 30 + name.length + 4) % 64)) % 64;
      const local = new DataView(new ArrayBuffer(30));
      local.setUint32(0, 0x04034b50, true);
      local.setUint16(4, 20, true);
      local.setUint16(6, 0x0808, true); // data descriptor + UTF-8, as torch writes
      local.setUint16(8, spec.method ?? 0, true);
      local.setUint16(26, name.length, true);
      local.setUint16(28, 4 + pad, true);
      const extra = new Uint8Array(4 + pad).fill(0x5a);
      extra.set([0x46, 0x42, pad & 0xff, pad >> 8]);
      const header = concatBytes(new Uint8Array(local.buffer), name, extra);
      await file.write(header, 0, header.length, at);
      const dataStart = at + header.length;
      if (body.length > 0) await file.write(body, 0, body.length, dataStart);
      const descriptor = new DataView(new ArrayBuffer(16));
      descriptor.setUint32(0, 0x08074b50, true);
      descriptor.setUint32(4, crc, true);
      descriptor.setUint32(8, options.zip64 ? 0xffffffff : size, true);
      descriptor.setUint32(12, options.zip64 ? 0xffffffff : uncompressed, true);
      await file.write(new Uint8Array(descriptor.buffer), 0, 16, dataStart + size);
      central.push(centralRecord(name, spec.method ?? 0, crc, size, uncompressed, at, options.zip64 ?? false));
      at = dataStart + size + 16;
    }
    const directory = concatBytes(...central);
    await file.write(directory, 0, directory.length, at);
    const tail = endRecords(specs.length, directory.length, at, options.zip64 ?? false);
    await file.write(tail, 0, tail.length, at + directory.length);
    return at + directory.length + tail.length;
  } finally {
    await file.close();
  }
}

function centralRecord(
  name: Uint8Array,
  method: number,
  crc: number,
  size: number,
  uncompressed: number,
  offset: number,
  zip64: boolean,
): Uint8Array {
  const record = new DataView(new ArrayBuffer(46));
  record.setUint32(0, 0x02014b50, true);
  record.setUint16(4, 0x0314, true);
  record.setUint16(6, zip64 ? 45 : 20, true);
  record.setUint16(8, 0x0808, true);
  record.setUint16(10, method, true);
  record.setUint32(16, crc, true);
  record.setUint32(20, zip64 ? 0xffffffff : size, true);
  record.setUint32(24, zip64 ? 0xffffffff : uncompressed, true);
  record.setUint16(28, name.length, true);
  record.setUint32(42, zip64 ? 0xffffffff : offset, true);
  if (!zip64) return concatBytes(new Uint8Array(record.buffer), name);
  record.setUint16(30, 28, true);
  const extra = new DataView(new ArrayBuffer(28));
  extra.setUint16(0, 1, true);
  extra.setUint16(2, 24, true);
  extra.setBigUint64(4, BigInt(uncompressed), true);
  extra.setBigUint64(12, BigInt(size), true);
  extra.setBigUint64(20, BigInt(offset), true);
  return concatBytes(new Uint8Array(record.buffer), name, new Uint8Array(extra.buffer));
}

function endRecords(count: number, cdSize: number, cdOffset: number, zip64: boolean): Uint8Array {
  const end = new DataView(new ArrayBuffer(22));
  end.setUint32(0, 0x06054b50, true);
  end.setUint16(8, zip64 ? 0xffff : count, true);
  end.setUint16(10, zip64 ? 0xffff : count, true);
  end.setUint32(12, zip64 ? 0xffffffff : cdSize, true);
  end.setUint32(16, zip64 ? 0xffffffff : cdOffset, true);
  if (!zip64) return new Uint8Array(end.buffer);
  const record = new DataView(new ArrayBuffer(56));
  record.setUint32(0, 0x06064b50, true);
  record.setBigUint64(4, 44n, true);
  record.setUint16(12, 45, true);
  record.setUint16(14, 45, true);
  record.setBigUint64(24, BigInt(count), true);
  record.setBigUint64(32, BigInt(count), true);
  record.setBigUint64(40, BigInt(cdSize), true);
  record.setBigUint64(48, BigInt(cdOffset), true);
  const locator = new DataView(new ArrayBuffer(20));
  locator.setUint32(0, 0x07064b50, true);
  locator.setBigUint64(8, BigInt(cdOffset + cdSize), true);
  locator.setUint32(16, 1, true);
  return concatBytes(new Uint8Array(record.buffer), new Uint8Array(locator.buffer), new Uint8Array(end.buffer));
}

// ---- a minimal ustar writer ----

export function ustar(members: Array<{ name: string; data: Uint8Array; type?: string }>): Uint8Array {
  const blocks: Uint8Array[] = [];
  for (const m of members) {
    const header = new Uint8Array(512);
    header.set(new TextEncoder().encode(m.name).subarray(0, 100), 0);
    header.set(latin1("0000644\0"), 100);
    header.set(latin1("0000000\0"), 108);
    header.set(latin1("0000000\0"), 116);
    header.set(latin1(m.data.length.toString(8).padStart(11, "0") + "\0"), 124);
    header.set(latin1("00000000000\0"), 136);
    header[156] = (m.type ?? "0").charCodeAt(0);
    header.set(latin1("ustar\x0000"), 257);
    header.set(latin1("        "), 148);
    const sum = header.reduce((n, b) => n + b, 0);
    header.set(latin1(sum.toString(8).padStart(6, "0") + "\0 "), 148);
    blocks.push(header, m.data, new Uint8Array((512 - (m.data.length % 512)) % 512));
  }
  blocks.push(new Uint8Array(1024));
  return concatBytes(...blocks);
}
