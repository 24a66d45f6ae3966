import type { DataObjects } from "jsfive";
import type { ByteSource } from "../source/byte-source.js";

/**
 * Reads the attributes of an HDF5 file's root group (where Keras 2 keeps `model_config`) with jsfive.
 *
 * jsfive parses an ArrayBuffer, not a stream. The superblock and the root object header sit at the start of the
 * file and Keras writes its root attributes before any weights, so a bounded prefix is read first and a longer
 * one only when the prefix was not enough, up to a memory cap. jsfive reads past the end of a short buffer
 * either with an exception (DataView) or silently short (ArrayBuffer.slice); every attribute message is therefore
 * checked to lie inside the buffer, and the caller may reject a prefix reading (a string that does not parse) to
 * ask for more.
 *
 * jsfive does not read "dense" attribute storage (a fractal heap named by an Attribute Info message), where
 * h5py puts the attributes of an object with many of them when the file uses the newer format. Such attributes
 * are invisible to it, so their presence is reported instead of passing the file.
 */

/** The HDF5 signature, found at offset 0 or after a user block of 512, 1024, 2048, … bytes. */
const SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];
const ATTRIBUTE_MSG = 0x000c;
const ATTRIBUTE_INFO_MSG = 0x0015;
const PREFIXES = [1 << 20, 8 << 20];
export const HDF5_MAX_BYTES = 64 << 20;

export interface Hdf5Attribute {
  name: string;
  value: unknown;
}

export interface RootAttributes {
  attributes: Hdf5Attribute[];
  /** The root group keeps (some) attributes in dense storage, which was not read. */
  denseStorage: boolean;
  /** Attributes whose value jsfive could not decode (unsupported datatype, bad shape). */
  unreadable: string[];
  /** Where the superblock starts (the user-block size). */
  base: number;
}

export type RootAttributesResult =
  { ok: true; root: RootAttributes } | { ok: false; error: string; overLimit: boolean };

/** The offset of the HDF5 signature within the first bytes, or -1. Only powers of two from 512 are legal. */
export function findSignature(head: Uint8Array): number {
  for (let at = 0; at + SIGNATURE.length <= head.length; at = at === 0 ? 512 : at * 2)
    if (SIGNATURE.every((b, i) => head[at + i] === b)) return at;
  return -1;
}

/**
 * Reads the root attributes. `accept` lets the caller refuse a reading of a prefix (a value cut short) so that a
 * longer prefix is tried; the reading of the whole file (or of the cap) is always final.
 */
export async function readRootAttributes(
  source: ByteSource,
  base: number,
  accept: (root: RootAttributes) => boolean,
  { maxBytes = HDF5_MAX_BYTES, prefixes = PREFIXES }: { maxBytes?: number; prefixes?: number[] } = {},
): Promise<RootAttributesResult> {
  const available = source.size - base;
  const sizes = [...prefixes.filter((n) => n < Math.min(available, maxBytes)), Math.min(available, maxBytes)];
  let lastError = "";
  // Loaded on the first HDF5 file: every other scan skips the parser.
  const { File: Hdf5File } = await import("jsfive");
  for (const size of sizes) {
    const whole = size === available;
    const buffer = toArrayBuffer(await source.read(base, size));
    const last = size === sizes[sizes.length - 1];
    const parsed = parseRoot(Hdf5File, buffer, base, last);
    if (typeof parsed !== "string") {
      if (last || accept(parsed)) return { ok: true, root: parsed };
      continue;
    }
    lastError = parsed;
    if (whole) break;
  }
  const overLimit = available > maxBytes;
  return {
    ok: false,
    overLimit,
    error: overLimit
      ? `the HDF5 root group could not be read from the first ${maxBytes} bytes (${lastError})`
      : `the HDF5 structure could not be read: ${lastError}`,
  };
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  const copy = new ArrayBuffer(bytes.length);
  new Uint8Array(copy).set(bytes);
  return copy;
}

/** Parses the superblock and root object header and decodes each attribute message; a string says why not. */
function parseRoot(
  Hdf5File: typeof import("jsfive").File,
  buffer: ArrayBuffer,
  base: number,
  last: boolean,
): RootAttributes | string {
  // jsfive reports unsupported attribute datatypes with console.warn; the finding is ours to report.
  const warn = console.warn;
  console.warn = () => undefined;
  try {
    const file = new Hdf5File(buffer, "");
    const objects = file._dataobjects;
    const root: RootAttributes = { attributes: [], denseStorage: false, unreadable: [], base };
    for (const msg of objects.msgs) {
      const type = msg.get("type");
      const offset = msg.get("offset_to_message") ?? -1;
      const size = msg.get("size") ?? 0;
      if (offset < 0 || offset + size > buffer.byteLength) throw new RangeError("header message past the buffer");
      if (type === ATTRIBUTE_INFO_MSG) root.denseStorage ||= hasDenseHeap(buffer, offset);
      else if (type === ATTRIBUTE_MSG) readAttribute(objects, buffer, offset, size, root, last);
    }
    return root;
  } catch (e) {
    return describeError(e);
  } finally {
    console.warn = warn;
  }
}

/** Decodes one attribute message after checking that its values fit in it (jsfive loops over the claimed count). */
function readAttribute(
  objects: DataObjects,
  buffer: ArrayBuffer,
  offset: number,
  size: number,
  root: RootAttributes,
  last: boolean,
): void {
  const layout = attributeLayout(buffer, offset);
  if (typeof layout === "string") {
    root.unreadable.push(layout);
    return;
  }
  let count = 1;
  try {
    for (const dim of objects.determine_data_shape(buffer, layout.dataspaceOffset)) count *= Number(dim);
  } catch (e) {
    root.unreadable.push(`${layout.name}: dataspace: ${describeError(e)}`);
    return;
  }
  // Every element of a compact attribute takes at least one byte of the message (16 for a variable-length one).
  if (!(count <= size)) {
    root.unreadable.push(`${layout.name}: ${count} elements in a ${size}-byte message`);
    return;
  }
  try {
    const [name, value] = objects.unpack_attribute(offset);
    if (value === null) root.unreadable.push(`${name}: datatype not supported`);
    else root.attributes.push({ name: stripNul(name), value: cleanValue(value) });
  } catch (e) {
    // Off the end of a prefix: a longer read decides. On the last read the value lies past what may be read.
    if (e instanceof RangeError && !last) throw e;
    root.unreadable.push(
      `${layout.name}: ${describeError(e)}${e instanceof RangeError ? ` (its value lies past the ${buffer.byteLength} bytes read)` : ""}`,
    );
  }
}

/** The attribute's name and where its dataspace starts (Attribute message versions 1 and 3; jsfive reads no other). */
function attributeLayout(buffer: ArrayBuffer, offset: number): { name: string; dataspaceOffset: number } | string {
  const view = new DataView(buffer);
  const version = view.getUint8(offset);
  if (version !== 1 && version !== 3) return `attribute message version ${version} is not supported`;
  const nameSize = view.getUint16(offset + 2, true);
  const datatypeSize = view.getUint16(offset + 4, true);
  const pad = (n: number): number => (version === 1 ? Math.ceil(n / 8) * 8 : n);
  const nameStart = offset + (version === 1 ? 8 : 9);
  const name = stripNul(new TextDecoder("utf-8").decode(new Uint8Array(buffer, nameStart, nameSize)));
  return { name, dataspaceOffset: nameStart + pad(nameSize) + pad(datatypeSize) };
}

/** An Attribute Info message names a fractal heap (dense storage) unless its address is the undefined address. */
function hasDenseHeap(buffer: ArrayBuffer, offset: number): boolean {
  const view = new DataView(buffer);
  const flags = view.getUint8(offset + 1);
  const at = offset + 2 + (flags & 1 ? 2 : 0);
  for (let i = 0; i < 8; i++) if (view.getUint8(at + i) !== 0xff) return true;
  return false;
}

/** Fixed-length HDF5 strings keep their NUL padding in jsfive; h5py (numpy) strips the trailing NULs only. */
function stripNul(text: string): string {
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === 0) end--;
  return text.slice(0, end);
}

function cleanValue(value: unknown): unknown {
  if (typeof value === "string") return stripNul(value);
  if (Array.isArray(value)) return (value as unknown[]).map((v) => (typeof v === "string" ? stripNul(v) : v));
  return value;
}

function describeError(e: unknown): string {
  if (e instanceof Error) return e.message;
  return typeof e === "string" ? e : "unknown error";
}
