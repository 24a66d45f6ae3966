/**
 * Lays out a ZIP the way torch.save writes a checkpoint (stored entries `archive/data.pkl`, `archive/data/<n>`,
 * `archive/version`, central directory, end record) as byte segments plus a total size, so tests and benchmarks
 * can serve or write multi-GiB checkpoints whose storages are holes of zeros.
 */
export interface Segment {
  offset: number;
  bytes: Uint8Array;
}

export interface ZipEntrySpec {
  name: string;
  /** Content for small entries; `size` alone makes a zero-filled (sparse) entry. */
  data?: Uint8Array;
  size?: number;
}

export function torchZipLayout(entries: ZipEntrySpec[]): { size: number; segments: Segment[] } {
  const segments: Segment[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = Buffer.from(entry.name);
    const size = entry.data?.length ?? entry.size ?? 0;
    const crc = entry.data ? crc32(entry.data) : 0; // torch never checks CRCs; sparse storages carry 0
    const local = Buffer.alloc(30 + name.length);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(size, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(name.length, 26);
    name.copy(local, 30);
    segments.push({ offset, bytes: local });
    if (entry.data) segments.push({ offset: offset + local.length, bytes: entry.data });
    const record = Buffer.alloc(46 + name.length);
    record.writeUInt32LE(0x02014b50, 0);
    record.writeUInt16LE(20, 4);
    record.writeUInt16LE(20, 6);
    record.writeUInt32LE(crc, 16);
    record.writeUInt32LE(size, 20);
    record.writeUInt32LE(size, 24);
    record.writeUInt16LE(name.length, 28);
    record.writeUInt32LE(offset, 42);
    name.copy(record, 46);
    central.push(record);
    offset += local.length + size;
  }
  const directory = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  segments.push({ offset, bytes: directory }, { offset: offset + directory.length, bytes: end });
  return { size: offset + directory.length + end.length, segments };
}

/** A torch data.pkl (protocol 2) for tensors in storages "0".."n-1", optionally led by a payload call. */
export function torchDataPickle(tensors: Array<{ name: string; numel: number }>, payload?: string): Uint8Array {
  const parts: number[] = [0x80, 0x02];
  const text = (s: string): number[] => [...Buffer.from(s)];
  const global = (module: string, name: string): number[] => [0x63, ...text(`${module}\n${name}\n`)];
  const short = (s: string): number[] => [0x55, Buffer.byteLength(s), ...text(s)];
  const binint = (n: number): number[] => [0x4a, n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, (n >>> 24) & 0xff];
  if (payload) parts.push(...global("posix", "system"), ...short(payload), 0x85, 0x52, 0x30); // REDUCE, POP
  parts.push(...global("collections", "OrderedDict"), 0x29, 0x52, 0x71, 0x00, 0x28); // OrderedDict() BINPUT 0 MARK
  tensors.forEach((t, i) => {
    parts.push(...short(t.name), ...global("torch._utils", "_rebuild_tensor_v2"), 0x28);
    parts.push(
      0x28,
      ...short("storage"),
      ...global("torch", "FloatStorage"),
      ...short(String(i)),
      ...short("cpu"),
      ...binint(t.numel),
      0x74,
      0x51,
    );
    parts.push(
      0x4b,
      0x00,
      ...binint(t.numel),
      0x85,
      0x4b,
      0x01,
      0x85,
      0x89,
      ...global("collections", "OrderedDict"),
      0x29,
      0x52,
      0x74,
      0x52,
    );
  });
  parts.push(0x75, 0x2e); // SETITEMS, STOP
  return Uint8Array.from(parts);
}

/** A torch.save-like checkpoint of about `totalBytes`, split into `count` float32 storages. */
export function torchCheckpoint(
  totalBytes: number,
  count: number,
  payload?: string,
): { size: number; segments: Segment[] } {
  const numel = Math.floor(totalBytes / count / 4);
  const tensors = Array.from({ length: count }, (_, i) => ({ name: `layers.${i}.weight`, numel }));
  return torchZipLayout([
    { name: "archive/data.pkl", data: torchDataPickle(tensors, payload) },
    ...tensors.map((t, i) => ({ name: `archive/data/${i}`, size: t.numel * 4 })),
    { name: "archive/version", data: Buffer.from("3\n") },
  ]);
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
