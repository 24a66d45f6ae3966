import { OPCODES } from "../pickle/opcodes.js";
import { bytesAt } from "../source/bytes.js";
import type { Probe } from "../source/probe.js";
import { readsAsJinjaFile, readsAsTextTemplate, readsAsYaml } from "./read-conditions.js";
import type { FormatHandler } from "./types.js";

/**
 * Every format the scanner knows, in the order they are tried; a file may match several (polyglots).
 *
 * Each line is a cheap synchronous probe and a loader. The reader module is imported only when its probe claims
 * a file, so a scan of safetensors files never loads the YAML parser, the Jinja engine, the protobuf walkers, the
 * decompressors or the 7z reader. A probe is a *prefilter*: it must accept every file its reader's own `sniff`
 * accepts (that exact test still runs once the reader is loaded), and it may look at the name only where the
 * reader itself refuses any other name before recording anything. The name-bound readers (YAML, bare Jinja, text
 * templates) and their probes share one predicate from read-conditions.ts, so the two cannot drift apart.
 *
 * Adding a format: one reader file in formats/ (a `FormatHandler`) and one line here.
 */
export interface RegistryEntry {
  readonly name: string;
  /** Whether the reader is worth loading for this file: magic bytes, and for name-bound formats the name. */
  claims(probe: Probe, name: string): boolean;
  /** The reader (or, for a family sharing one module, its readers in the order they are tried). */
  load(): Promise<FormatHandler | readonly FormatHandler[]>;
}

const BOM = [0xef, 0xbb, 0xbf];
const ZIP_LOCAL_HEADER = [0x50, 0x4b, 0x03, 0x04];
const ZIP_END_RECORD = [0x50, 0x4b, 0x05, 0x06];
const HDF5_SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];
const USTAR = [0x75, 0x73, 0x74, 0x61, 0x72]; // "ustar" at offset 257 of a tar header
const SEVEN_ZIP = [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c];
const NPY = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
const GGUF = [0x47, 0x47, 0x55, 0x46];

/** Index of the first byte that is not JSON white space (after a UTF-8 BOM). */
function firstNonSpace(head: Uint8Array): number {
  let i = bytesAt(head, 0, BOM) ? 3 : 0;
  while (i < head.length && (head[i] === 0x20 || head[i] === 0x0a || head[i] === 0x0d || head[i] === 0x09)) i++;
  return i;
}

const jsonObject = (p: Probe): boolean => p.head[firstNonSpace(p.head)] === 0x7b;

/** The first bytes of gzip, zlib, bzip2, xz, legacy lzma and lz4 frames; each codec's exact test runs after. */
const compressedFirstBytes = new Set([0x1f, 0x78, 0x42, 0xfd, 0x5d, 0x04]);

/** PK\x05\x06 (the end record) anywhere in the probe's tail, or a local header / empty archive at the start. */
function zipClaims(p: Probe): boolean {
  if (bytesAt(p.head, 0, ZIP_LOCAL_HEADER) || bytesAt(p.head, 0, ZIP_END_RECORD)) return true;
  for (let i = p.tail.length - 22; i >= 0; i--) if (bytesAt(p.tail, i, ZIP_END_RECORD)) return true;
  return false;
}

/** The HDF5 superblock signature at 0, 512, 1024, 2048… (where the HDF5 library looks for it). */
function hdf5Claims(p: Probe): boolean {
  for (let at = 0; at + 8 <= p.head.length; at = at === 0 ? 512 : at * 2)
    if (bytesAt(p.head, at, HDF5_SIGNATURE)) return true;
  return false;
}

export const REGISTRY: readonly RegistryEntry[] = [
  {
    name: "compressed",
    claims: (p) => compressedFirstBytes.has(p.head[0]!),
    load: async () => (await import("../containers/compressed.js")).COMPRESSION_FORMATS,
  },
  { name: "zip", claims: zipClaims, load: async () => (await import("./zip.js")).zipFormat },
  {
    name: "tar",
    claims: (p) => bytesAt(p.head, 257, USTAR),
    load: async () => (await import("./tar.js")).tarFormat,
  },
  {
    name: "7z",
    claims: (p) => bytesAt(p.head, 0, SEVEN_ZIP),
    load: async () => (await import("../containers/sevenzip.js")).sevenZipFormat,
  },
  {
    name: "npy",
    claims: (p) => bytesAt(p.head, 0, NPY),
    load: async () => (await import("./numpy.js")).npyFormat,
  },
  {
    name: "safetensors",
    claims: (p) => p.head[8] === 0x7b,
    load: async () => (await import("./safetensors.js")).safetensorsFormat,
  },
  {
    name: "gguf",
    claims: (p) => bytesAt(p.head, 0, GGUF),
    load: async () => (await import("./gguf.js")).ggufFormat,
  },
  { name: "onnx", claims: (p) => p.head[0] === 0x08, load: async () => (await import("./onnx.js")).onnxFormat },
  {
    name: "hf-config",
    claims: jsonObject,
    load: async () => (await import("./remote-code.js")).remoteCodeConfigFormat,
  },
  {
    name: "chat-template",
    claims: jsonObject,
    load: async () => (await import("./jinja.js")).chatTemplateJsonFormat,
  },
  {
    name: "jinja",
    claims: (_p, name) => readsAsJinjaFile(name),
    load: async () => (await import("./jinja.js")).jinjaFileFormat,
  },
  {
    name: "jinja-json",
    claims: jsonObject,
    load: async () => (await import("./template-content.js")).jsonTemplateFormat,
  },
  {
    name: "jinja-text",
    claims: (p, name) => readsAsTextTemplate(p.head, name),
    load: async () => (await import("./template-content.js")).textTemplateFormat,
  },
  { name: "hdf5", claims: hdf5Claims, load: async () => (await import("./keras.js")).hdf5Format },
  {
    name: "keras-v3",
    claims: (p) => jsonObject(p) || (p.size > p.head.length && firstNonSpace(p.head) === p.head.length),
    load: async () => (await import("./keras.js")).kerasConfigFormat,
  },
  {
    name: "savedmodel",
    // A protobuf field tag of wire type 0, 1, 2 or 5 with a field number of 1 to 15.
    claims: (p) => p.head[0]! >= 0x08 && p.head[0]! < 0x80 && [0, 1, 2, 5].includes(p.head[0]! & 7),
    load: async () => (await import("./savedmodel.js")).savedModelFormat,
  },
  {
    name: "keras-metadata",
    claims: (p) => p.head[0] === 0x0a,
    load: async () => (await import("./savedmodel.js")).kerasMetadataFormat,
  },
  {
    name: "yaml",
    claims: (p, name) => readsAsYaml(p.head, name),
    load: async () => (await import("./yaml.js")).yamlFormat,
  },
  {
    name: "pickle",
    claims: (p) => p.head[0] !== undefined && OPCODES[p.head[0]] !== undefined && p.head[0] !== 0x50,
    load: async () => (await import("./pickle.js")).pickleFormat,
  },
];

const isList = (r: FormatHandler | readonly FormatHandler[]): r is readonly FormatHandler[] => Array.isArray(r);

const loaded = new Map<RegistryEntry, Promise<readonly FormatHandler[]>>();

/** The readers of an entry, imported on first use and kept. */
export function readersOf(entry: RegistryEntry): Promise<readonly FormatHandler[]> {
  let readers = loaded.get(entry);
  if (!readers) {
    readers = entry.load().then((r): readonly FormatHandler[] => (isList(r) ? r : [r]));
    loaded.set(entry, readers);
  }
  return readers;
}
