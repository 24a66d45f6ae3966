import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { REGISTRY, readersOf } from "../src/formats/registry.js";
import { DEFAULT_SCAN_LIMITS, InspectContext, probe } from "../src/inspect.js";
import { BufferSource } from "../src/source/byte-source.js";
import { FIXTURES } from "./helpers.js";

// The registry loads a reader only when its probe claims the file, so a probe narrower than its reader would skip
// files silently. For the name-bound readers (sharing one predicate with their probe) this checks that the probe
// accepts every file the reader would read, over the engine's fixtures under their own names and under names and
// first bytes that each reader takes.

/** Fixture files up to this size (the readers' claims depend on the name and the first bytes). */
const MAX_BYTES = 64 * 1024;

function fixtureFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return fixtureFiles(path);
    return entry.isFile() && statSync(path).size <= MAX_BYTES ? [path] : [];
  });
}

const FILES = fixtureFiles(FIXTURES);

/** Names each reader takes or refuses: suffix case, archive members, bare names, other formats' names. */
const NAMES = [
  "model.yaml",
  "CONFIG.YML",
  "model.zip!inner/params.yaml",
  "hparams.yaml.bak",
  "chat_template.jinja",
  "prompt.J2",
  "t.jinja2",
  "repo.tar!templates/t.jinja",
  "prompt.template",
  "render.TMPL",
  "notes.txt",
  "README",
  "model.zip!sub/SYSTEM",
  "model.bin",
  "weights.safetensors",
  "config.json",
];

const enc = (text: string): Uint8Array => new TextEncoder().encode(text);
/** First bytes that change a claim: a BOM, YAML directives (and near misses), template syntax, a NUL. */
const PREFIXES = [
  new Uint8Array(),
  new Uint8Array([0xef, 0xbb, 0xbf]),
  enc("%YAML 1.1\n"),
  Uint8Array.of(0xef, 0xbb, 0xbf, ...enc("%TAG !p! tag:yaml.org,2002:python/\n---\n")),
  enc("%YAMLX\n"),
  enc("% comment\n"),
  enc("{{ cycler.__init__.__globals__.os.popen('id').read() }}\n"),
  Uint8Array.of(0x7b, 0x7b, 0x20, 0x00, 0x7d, 0x7d),
];

interface Case {
  name: string;
  bytes: Uint8Array;
}

function* cases(): Generator<Case> {
  for (const path of FILES) {
    const bytes = readFileSync(path);
    yield { name: path.slice(FIXTURES.length + 1), bytes };
    for (const name of NAMES) yield { name, bytes };
    for (const prefix of PREFIXES.slice(1))
      for (const name of [path.slice(FIXTURES.length + 1), "model.bin", "notes.txt", "t.j2"])
        yield { name, bytes: Buffer.concat([prefix, bytes]) };
  }
}

/** Whether the reader, run on its own (no registry), reads the file: its sniff passes and its inspect takes it. */
async function readerTakes(reader: Awaited<ReturnType<typeof readersOf>>[number], c: Case): Promise<boolean> {
  const source = new BufferSource(c.bytes, c.name);
  const seen = await probe(source);
  if (!reader.sniff(seen)) return false;
  const inventory = {
    path: c.name,
    size: c.bytes.length,
    formats: [],
    imports: [],
    indicators: [],
    errors: [],
    bytes_read: 0,
  };
  return reader.inspect(source, new InspectContext(inventory, DEFAULT_SCAN_LIMITS), seen);
}

describe.each(["yaml", "jinja", "jinja-text"])("the %s probe", (entryName) => {
  it("claims every file its reader reads, over the fixtures and their variants", async () => {
    const entry = REGISTRY.find((e) => e.name === entryName)!;
    const [reader] = await readersOf(entry);
    const missed: string[] = [];
    let taken = 0;
    let refusedByProbe = 0;
    for (const c of cases()) {
      const claimed = entry.claims(await probe(new BufferSource(c.bytes, c.name)), c.name);
      if (!claimed) refusedByProbe++;
      if (!(await readerTakes(reader!, c))) continue;
      taken++;
      if (!claimed) missed.push(c.name);
    }
    expect(missed).toEqual([]);
    // Neither side is trivial: the reader reads some of these files and the probe turns others away unread.
    expect(taken).toBeGreaterThan(20);
    expect(refusedByProbe).toBeGreaterThan(1000);
  }, 120_000);
});

/** Magic bytes where the readers look for them: the HDF5 signature after a user block, a tar header, cut files. */
function* magicVariants(): Generator<Case> {
  const hdf5 = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];
  for (const at of [0, 512, 1024, 2048]) {
    const bytes = new Uint8Array(at + 64);
    bytes.set(hdf5, at);
    yield { name: "model.h5", bytes };
  }
  const tar = new Uint8Array(1024);
  tar.set(enc("ustar"), 257);
  yield { name: "archive.tar", bytes: tar };
  for (const path of FILES) {
    const bytes = readFileSync(path);
    // Cut short inside the first bytes: a probe must not read past the end of what it was given.
    for (const n of [1, 3, 5, 7]) if (bytes.length > n) yield { name: path, bytes: bytes.subarray(0, n) };
  }
}

/** The name-bound readers sniff every file and decide by the name in `inspect`: checked above, reader and probe. */
const NAME_BOUND = ["yaml", "jinja", "jinja-text"];

describe("every registry probe", () => {
  it("claims every file one of its readers sniffs, over the fixtures, magic variants and cut files", async () => {
    const all = [...cases(), ...magicVariants()];
    const missed: string[] = [];
    let sniffed = 0;
    for (const entry of REGISTRY.filter((e) => !NAME_BOUND.includes(e.name))) {
      const readers = await readersOf(entry);
      for (const c of all) {
        const seen = await probe(new BufferSource(c.bytes, c.name));
        if (!readers.some((reader) => reader.sniff(seen))) continue;
        sniffed++;
        if (!entry.claims(seen, c.name)) missed.push(`${entry.name}: ${c.name} (${c.bytes.length} bytes)`);
      }
    }
    expect(missed).toEqual([]);
    expect(sniffed).toBeGreaterThan(1000);
  }, 120_000);

  it("turns away the magic numbers one byte off", async () => {
    const h5 = new Uint8Array(600);
    h5.set([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a], 511); // one byte before the user-block boundary
    const tar = new Uint8Array(1024);
    tar.set(enc("ustar"), 258);
    const claims = async (entryName: string, bytes: Uint8Array, name: string) =>
      REGISTRY.find((e) => e.name === entryName)!.claims(await probe(new BufferSource(bytes, name)), name);
    expect(await claims("hdf5", h5, "model.h5")).toBe(false);
    expect(await claims("tar", tar, "a.tar")).toBe(false);
    expect(await claims("7z", Uint8Array.of(0x37, 0x7a, 0xbc, 0xaf, 0x27), "a.7z")).toBe(false);
    expect(await claims("gguf", enc("GGU"), "a.gguf")).toBe(false);
    expect(await claims("yaml", enc("%YAML"), "a")).toBe(false);
    expect(await claims("yaml", enc("%YAML "), "a")).toBe(true);
    expect(await claims("yaml", Uint8Array.of(0xef, 0xbb, 0xbf, ...enc("%TAG ")), "a")).toBe(true);
  });
});
