import { SliceSource, type ByteSource } from "../source/byte-source.js";
import { AnomalyLog, isUnsafePath } from "./anomalies.js";

/**
 * POSIX (ustar), GNU and pax tar: lists the members (each regular one a slice of the file) with the anomalies of
 * the headers and names. What the members mean (torch's pre-0.4 checkpoint layout) is decided in formats/tar.ts.
 */

const BLOCK = 512;
/** Regular files (`0`, old `\0`, contiguous `7`) and GNU sparse files (`S`, scanned as stored). */
const DATA_TYPES = new Set(["0", "\0", "7", "S"]);
/** A GNU long name or link, or a pax header, larger than this is not a name: refused. */
const MAX_META_BYTES = 1024 * 1024;

export interface TarOptions {
  /** Member path of the archive itself ("" for the file); members are `<base>!<name>`. */
  base: string;
  maxMembers: number;
  /** Wall-clock time (ms since the epoch) after which the header walk stops; `timeoutMs` names it. */
  deadline: number;
  timeoutMs: number;
}

/** A listed tar: its members and the anomalies found while listing them (held for the caller to record). */
export interface TarArchive {
  members: TarMember[];
  anomalies: AnomalyLog;
}

/** `ustar` at offset 257: POSIX and GNU tar (a v7 tar without it is not read). */
export function sniffTar(head: Uint8Array): boolean {
  const magic = head.subarray(257, 262);
  return magic.length === 5 && String.fromCharCode(...magic) === "ustar";
}

/** Lists the members and checks their names. Undefined when the first header is not a tar header. */
export async function readTar(source: ByteSource, options: TarOptions): Promise<TarArchive | undefined> {
  const anomalies = new AnomalyLog(options.base);
  const members = await listMembers(source, options, anomalies);
  if (members === undefined) return undefined;
  checkNames(members, options, anomalies);
  return { members, anomalies };
}

/**
 * The bytes of a regular member (or a sparse one, as stored); undefined for links, folders, devices and empty
 * members, which hold no bytes.
 */
export function memberData(source: ByteSource, options: TarOptions, m: TarMember): ByteSource | undefined {
  if (!DATA_TYPES.has(m.type) || m.size === 0) return undefined;
  const size = Math.min(m.size, Math.max(0, source.size - m.dataStart));
  return new SliceSource(source, m.dataStart, size, memberPath(options, m.name));
}

export interface TarMember {
  name: string;
  type: string;
  linkName: string;
  dataStart: number;
  size: number;
  headerOffset: number;
}

/** Pending metadata from GNU long-name entries and pax headers, applied to the next member. */
interface PendingMeta {
  path?: string;
  linkPath?: string;
  size?: number;
}

/**
 * Walks the headers. Returns undefined when the first header is not a tar header at all; a damaged header later
 * on is reported and, when its magic still says ustar, read on (Python's tarfile stops silently there, so what
 * follows is at most extra bytes nobody loads; reading it costs little and fails closed).
 */
async function listMembers(
  source: ByteSource,
  options: TarOptions,
  findings: AnomalyLog,
): Promise<TarMember[] | undefined> {
  const members: TarMember[] = [];
  let pending: PendingMeta = {};
  let offset = 0;
  let headers = 0;
  while (offset + BLOCK <= source.size) {
    if (++headers > options.maxMembers) {
      findings.add(
        options.base,
        "tar.too_many_members",
        `more than ${options.maxMembers} headers; the rest were not scanned`,
      );
      break;
    }
    if (Date.now() > options.deadline) {
      findings.add(options.base, "scan.limit", `time budget of ${options.timeoutMs} ms exhausted in the tar headers`);
      break;
    }
    const header = await source.read(offset, BLOCK);
    if (header.length < BLOCK || header.every((b) => b === 0)) break; // end-of-archive blocks
    const hasMagic = text(header, 257, 5) === "ustar";
    if (!checksumMatches(header)) {
      if (offset === 0 && !hasMagic) return undefined;
      findings.add(
        options.base,
        "tar.checksum_mismatch",
        `header at ${offset} has a bad checksum (Python's tarfile stops reading here)`,
        offset,
      );
      if (!hasMagic) break;
    }
    const size = pending.size ?? parseNumber(header, 124, 12);
    if (size === undefined || size < 0) {
      findings.add(options.base, "tar.malformed", `header at ${offset} has an unreadable size`, offset);
      break;
    }
    const dataStart = offset + BLOCK;
    const next = dataStart + Math.ceil(size / BLOCK) * BLOCK;
    const type = String.fromCharCode(header[156]!);
    if (type === "L" || type === "K" || type === "x" || type === "g") {
      const meta = await readMeta(source, dataStart, size);
      if (meta === undefined) {
        findings.add(
          options.base,
          "tar.malformed",
          `extended header at ${offset} is larger than ${MAX_META_BYTES} bytes`,
          offset,
        );
        pending = {};
      } else if (type === "L") pending.path = cString(meta);
      else if (type === "K") pending.linkPath = cString(meta);
      else if (type === "x") pending = { ...pending, ...parsePax(meta) };
      offset = next;
      continue;
    }
    members.push({
      name: pending.path ?? joinUstarName(header),
      type,
      linkName: pending.linkPath ?? cString(header.subarray(157, 257)),
      dataStart,
      size,
      headerOffset: offset,
    });
    pending = {};
    offset = next;
  }
  if (offset > source.size)
    findings.add(
      options.base,
      "tar.truncated",
      `the last member runs ${offset - source.size} bytes past the end of the file`,
    );
  return members;
}

function checkNames(members: TarMember[], options: TarOptions, findings: AnomalyLog): void {
  const seen = new Set<string>();
  for (const m of members) {
    const path = memberPath(options, m.name);
    if (seen.has(m.name))
      findings.add(
        path,
        "tar.duplicate_name",
        `more than one member named ${JSON.stringify(m.name)} (tarfile uses the last; all were scanned)`,
        m.headerOffset,
      );
    seen.add(m.name);
    if (isUnsafePath(m.name))
      findings.add(
        path,
        "tar.path_traversal",
        `member name ${JSON.stringify(m.name)} leaves the extraction folder`,
        m.headerOffset,
      );
    if (m.type === "1" || m.type === "2")
      findings.add(
        path,
        "tar.link",
        `${m.type === "2" ? "symbolic" : "hard"} link to ${JSON.stringify(m.linkName)}${isUnsafePath(m.linkName) ? " (outside the extraction folder)" : ""}`,
        m.headerOffset,
      );
    if (m.type === "S")
      findings.add(
        path,
        "tar.unsupported_member",
        "GNU sparse member: its bytes were scanned as stored, holes not expanded",
        m.headerOffset,
      );
  }
}

export function memberPath(options: TarOptions, name: string): string {
  return options.base ? `${options.base}!${name}` : name;
}

async function readMeta(source: ByteSource, start: number, size: number): Promise<Uint8Array | undefined> {
  if (size > MAX_META_BYTES) return undefined;
  return source.read(start, size);
}

/** Pax records `<length> <key>=<value>\n`; only the keys that change where a member's bytes are matter here. */
function parsePax(bytes: Uint8Array): PendingMeta {
  const meta: PendingMeta = {};
  const decoder = new TextDecoder("utf-8");
  let p = 0;
  while (p < bytes.length) {
    const space = bytes.indexOf(0x20, p);
    if (space < 0) break;
    const length = Number(decoder.decode(bytes.subarray(p, space)));
    if (!Number.isSafeInteger(length) || length <= space - p || p + length > bytes.length) break;
    const record = decoder.decode(bytes.subarray(space + 1, p + length - 1));
    const eq = record.indexOf("=");
    const key = record.slice(0, eq);
    const value = record.slice(eq + 1);
    if (key === "path") meta.path = value;
    else if (key === "linkpath") meta.linkPath = value;
    else if (key === "size" && /^\d+$/.test(value)) meta.size = Number(value);
    p += length;
  }
  return meta;
}

/** ustar splits long names into `prefix` (345..500) and `name` (0..100). */
function joinUstarName(header: Uint8Array): string {
  const name = cString(header.subarray(0, 100));
  const prefix = text(header, 257, 5) === "ustar" ? cString(header.subarray(345, 500)) : "";
  return prefix ? `${prefix}/${name}` : name;
}

/**
 * The checksum is the sum of the header bytes with the checksum field read as spaces; tarfile also accepts the
 * sum of signed bytes (some old writers).
 */
function checksumMatches(header: Uint8Array): boolean {
  const stored = parseNumber(header, 148, 8);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const byte = i >= 148 && i < 156 ? 0x20 : header[i]!;
    unsigned += byte;
    signed += byte > 127 ? byte - 256 : byte;
  }
  return stored === unsigned || stored === signed;
}

/** An octal field (NUL/space padded) or GNU base-256 (first byte 0x80, or 0xff for negative). */
function parseNumber(header: Uint8Array, at: number, length: number): number | undefined {
  const field = header.subarray(at, at + length);
  if (field[0] === 0x80 || field[0] === 0xff) {
    let value = field[0] === 0xff ? -1 : 0;
    for (let i = 1; i < field.length; i++) value = value * 256 + field[i]!;
    return Number.isSafeInteger(value) ? value : undefined;
  }
  const digits = String.fromCharCode(...field)
    .replace(/[\0 ]+$/g, "")
    .replace(/^[\0 ]+/g, "");
  if (digits === "") return 0;
  return /^[0-7]+$/.test(digits) ? parseInt(digits, 8) : undefined;
}

function cString(bytes: Uint8Array): string {
  const nul = bytes.indexOf(0);
  return new TextDecoder("utf-8").decode(nul < 0 ? bytes : bytes.subarray(0, nul));
}

function text(bytes: Uint8Array, at: number, length: number): string {
  return String.fromCharCode(...bytes.subarray(at, at + length));
}
