import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deflateRawSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BufferSource, inspect } from "../src/index.js";
import {
  CONTAINERS,
  checkpointPickle,
  concatBytes,
  membersOf,
  scanFile,
  scanFixture,
  writeZip,
  type ZipSpec,
} from "./containers-helpers.js";

// Fixtures: fixtures/containers/generate_zip.py (payloads assembled from opcodes; they would run
// `echo modelvet-test`, and nothing here ever loads them). "torch" below is torch.load of torch 1.13, whose zip
// reader is miniz (caffe2/serialize/inline_container.cc); "zipfile" is CPython's.

describe("zip: a torch checkpoint is read like torch reads it", () => {
  it("passes a real torch.save checkpoint and its re-emitted copy", async () => {
    for (const name of ["benign_state_dict.pt", "torch_rewritten_benign.pt"]) {
      const scanned = await scanFixture(name);
      expect(scanned.severity, name).toBe(1);
      expect(scanned.formats).toEqual(expect.arrayContaining(["zip", "pytorch", "pickle"]));
    }
  });

  it("finds a payload injected into data.pkl", async () => {
    const scanned = await scanFixture("torch_injected.pt");
    expect(scanned.severity).toBe(3);
    expect(scanned.globals).toContain("posix.system");
    expect(membersOf(scanned, "posix.system")).toEqual(["benign_state_dict/data.pkl"]);
  });

  it("skips trailing bytes after the end record (torch and zipfile accept them)", async () => {
    const scanned = await scanFixture("trailing_junk.pt");
    expect(scanned.severity).toBe(3);
    expect(scanned.globals).toContain("posix.system");
    expect(scanned.indicators.filter((i) => i.startsWith("zip."))).toEqual([]);
  });
});

describe("zip: container bypasses C1–C7 (research/anchors.md §6.1)", () => {
  // C1 (CVE-2025-1945): torch ignores the local encryption bit and the 0x20/0x40 bits; it refuses an entry whose
  // central record says encrypted, but a scanner must read the bytes either way and say what it saw.
  it.each([
    ["c1_local_encrypted.pt", "zip.unusual_flags"],
    ["c1_central_encrypted.pt", "zip.encrypted"],
    ["c1_patched_0x20.pt", "zip.unusual_flags"],
    ["c1_strong_0x40.pt", "zip.unusual_flags"],
  ])("C1 %s: flag bits do not stop the scan", async (name, indicator) => {
    const scanned = await scanFixture(name);
    expect(scanned.severity).toBe(3);
    expect(scanned.globals).toContain("posix.system");
    expect(scanned.indicators).toContain(indicator);
  });

  // C2 (CVE-2025-1944): torch takes names from the central directory only; zipfile raises on the mismatch.
  it("C2: a local-header name that differs from the central name", async () => {
    const scanned = await scanFixture("c2_name_mismatch.pt");
    expect(scanned.severity).toBe(3);
    expect(membersOf(scanned, "posix.system")).toEqual(["benign_state_dict/data.pkl"]);
    expect(scanned.indicators).toContain("zip.name_mismatch");
  });

  // C3 (CVE-2025-10156): torch ignores CRCs (miniz built with MINIZ_DISABLE_ZIP_READER_CRC32_CHECKS, pytorch#28858);
  // zipfile raises BadZipFile at the end of the read.
  it("C3: a stored pickle edited after zipping (bad CRC)", async () => {
    const scanned = await scanFixture("c3_bad_crc.pt");
    expect(scanned.severity).toBe(3);
    expect(scanned.globals).toContain("posix.system");
    expect(scanned.indicators).toContain("zip.crc_mismatch");
    expect(scanned.file?.unsafe_dependencies[0]?.call).toContain("modelvet-TEST");
  });

  // C4 (CVE-2025-1889): torch.load(f, pickle_file="archive/data.txt") loads any member; members are judged by bytes.
  it("C4: a protocol-2 pickle named data.txt", async () => {
    const scanned = await scanFixture("c4_wrong_extension.zip");
    expect(scanned.severity).toBe(3);
    expect(membersOf(scanned, "posix.system")).toEqual(["archive/data.txt"]);
  });

  // C5: the same with protocol 0, which has no \x80 to sniff.
  it("C5: a protocol-0 pickle named data.txt", async () => {
    const scanned = await scanFixture("c5_protocol0.zip");
    expect(scanned.severity).toBe(3);
    expect(membersOf(scanned, "builtins.eval")).toEqual(["archive/data.txt"]);
  });

  // C6: torch loads the first of two `data.pkl` entries, zipfile's getinfo() the last: both are scanned.
  it("C6: duplicate data.pkl with the payload in the first", async () => {
    const scanned = await scanFixture("c6_duplicate_data_pkl.pt");
    expect(scanned.severity).toBe(3);
    expect(scanned.globals).toContain("posix.system");
    expect(scanned.indicators).toContain("zip.duplicate_name");
  });

  // C7 (modelscan #354): a corrupt entry before data.pkl must not abort the loop over entries.
  it("C7: a corrupt entry before data.pkl", async () => {
    const scanned = await scanFixture("c7_corrupt_entry_first.pt");
    expect(scanned.severity).toBe(3);
    expect(scanned.globals).toContain("posix.system");
    expect(scanned.indicators).toContain("zip.corrupt_entry");
  });

  it("a deflated pickle member is inflated and scanned", async () => {
    const scanned = await scanFixture("deflated_payload.zip");
    expect(scanned.severity).toBe(3);
    expect(membersOf(scanned, "posix.system")).toEqual(["model/extra.pkl"]);
  });

  it("a storage that starts like a pickle is read; ordinary storages are not", async () => {
    const scanned = await scanFixture("storage_holds_pickle.pt");
    expect(scanned.severity).toBe(3);
    expect(membersOf(scanned, "posix.system")).toEqual(["benign_state_dict/data/0"]);
  });
});

describe("zip: hostile archives (C17)", () => {
  it("reports ../ and absolute names and still scans the entries", async () => {
    const scanned = await scanFixture("c17_traversal.zip");
    expect(scanned.severity).toBe(3);
    expect(membersOf(scanned, "posix.system")).toEqual(["../../outside.pkl"]);
    expect(scanned.indicators.filter((i) => i === "zip.path_traversal")).toHaveLength(2);
  });

  it("reports symlink entries", async () => {
    const scanned = await scanFixture("c17_symlink.zip");
    expect(scanned.severity).toBe(2);
    expect(scanned.indicators).toContain("zip.symlink");
  });

  it("stops inflating past the compression-ratio limit", async () => {
    const scanned = await scanFixture("c17_ratio_bomb.zip");
    expect(scanned.severity).toBe(2);
    expect(scanned.indicators).toEqual(["zip.compression_ratio"]);
  });

  it("stops at the nesting limit instead of recursing without end", async () => {
    const scanned = await scanFixture("c17_deep_nesting.zip");
    expect(scanned.severity).toBe(2);
    expect(scanned.indicators).toContain("scan.limit");
  });

  it("bounds the entry count", async () => {
    const dir = await mkdtemp(join(tmpdir(), "modelvet-zip-"));
    try {
      const specs: ZipSpec[] = Array.from({ length: 40 }, (_, i) => ({
        name: `m/${i}.txt`,
        data: new Uint8Array([0x41]),
      }));
      await writeZip(join(dir, "many.zip"), specs);
      const scanned = await scanFile(join(dir, "many.zip"), { maxMembers: 10 });
      expect(scanned.severity).toBe(2);
      expect(scanned.indicators).toContain("zip.too_many_entries");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("finds entries the central directory does not list", async () => {
    const scanned = await scanFixture("hidden_entry.zip");
    expect(scanned.severity).toBe(3);
    expect(membersOf(scanned, "posix.system")).toEqual(["hidden.pkl"]);
    expect(scanned.indicators).toContain("zip.hidden_entry");
  });

  it("reports entries that share bytes and scans them once", async () => {
    const scanned = await scanFixture("overlapping_entries.zip");
    expect(scanned.severity).toBe(3);
    expect(scanned.indicators).toContain("zip.overlapping_entries");
    expect(membersOf(scanned, "posix.system")).toEqual(["a.pkl"]);
  });

  it("reads past prepended bytes as zipfile does, and says so", async () => {
    const scanned = await scanFixture("prepended.zip");
    expect(scanned.severity).toBe(3);
    expect(scanned.globals).toContain("posix.system");
    expect(scanned.indicators).toContain("zip.prepended_data");
  });

  it("fails closed on a compression method it cannot read", async () => {
    const scanned = await scanFixture("unsupported_method.zip");
    expect(scanned.severity).toBe(2);
    expect(scanned.indicators).toEqual(["zip.unsupported_method"]);
  });

  it("names an npz by its members", async () => {
    const scanned = await scanFixture("arrays.npz");
    expect(scanned.formats).toEqual(expect.arrayContaining(["zip", "npz"]));
    expect(scanned.indicators.filter((i) => i.startsWith("zip."))).toEqual([]);
  });

  it("survives random damage: findings or Warnings, never a crash", async () => {
    const original = await readFile(join(CONTAINERS, "c6_duplicate_data_pkl.pt"));
    let seed = 12345;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let round = 0; round < 150; round++) {
      const bytes = Uint8Array.from(original);
      for (let k = 0; k < 1 + random(8); k++) bytes[random(bytes.length)] = random(256);
      const cut = random(4) === 0 ? bytes.subarray(0, random(bytes.length)) : bytes;
      const inventory = await inspect(new BufferSource(cut, "mutant.pt"));
      expect(inventory.errors, `round ${round}`).toEqual([]);
    }
  });
});

describe("zip: never read bytes that cannot hold code", () => {
  const dir = { path: "" };
  beforeAll(async () => {
    dir.path = await mkdtemp(join(tmpdir(), "modelvet-big-"));
  });
  afterAll(async () => {
    await rm(dir.path, { recursive: true, force: true });
  });

  it("a 3 GiB checkpoint laid out like torch.save (ZIP64 records) costs well under 1 MiB of reads", async () => {
    const storages = 24;
    const storageSize = 128 * 1024 * 1024; // 24 × 128 MiB = 3 GiB of sparse holes
    const specs: ZipSpec[] = [
      { name: "archive/data.pkl", data: checkpointPickle(storages) },
      ...Array.from({ length: storages }, (_, i) => ({ name: `archive/data/${i}`, sparseSize: storageSize })),
      { name: "archive/version", data: new TextEncoder().encode("3\n") },
    ];
    const path = join(dir.path, "big.pt");
    const size = await writeZip(path, specs, { zip64: true });
    expect(size).toBeGreaterThan(3 * 1024 ** 3);
    const scanned = await scanFile(path);
    expect(scanned.globals).toContain("posix.system");
    expect(membersOf(scanned, "posix.system")).toEqual(["archive/data.pkl"]);
    expect(scanned.formats).toEqual(expect.arrayContaining(["zip", "pytorch"]));
    expect(scanned.indicators.filter((i) => i.startsWith("zip."))).toEqual([]);
    expect(scanned.bytesRead).toBeLessThan(1024 * 1024);
    console.info(`bytes_read for a ${size}-byte checkpoint: ${scanned.bytesRead}`);
  });

  it("a float storage that merely starts like PROTO 2 stays quiet (torch runs nothing without an import)", async () => {
    const path = join(dir.path, "lookalike.pt");
    const storage = new Float32Array([1.5, -2, 3, 4]);
    const bytes = new Uint8Array(storage.buffer);
    bytes.set([0x80, 0x02]); // the first float's low bytes happen to read as PROTO 2
    await writeZip(path, [
      { name: "archive/data.pkl", data: new Uint8Array([0x80, 0x02, 0x7d, 0x2e]) },
      { name: "archive/data/0", data: bytes },
    ]);
    const scanned = await scanFile(path);
    expect(scanned.severity).toBe(1);
    expect(scanned.indicators).toEqual([]);
  });

  it("a deflated member is streamed and CRC-checked", async () => {
    const payload = checkpointPickle(2);
    const path = join(dir.path, "deflated.pt");
    await writeZip(path, [
      { name: "archive/data.pkl", data: payload, method: 8, stored: deflateRawSync(payload) },
      { name: "archive/data/0", data: concatBytes(new Uint8Array(64)) },
    ]);
    const scanned = await scanFile(path);
    expect(scanned.globals).toContain("posix.system");
    expect(scanned.indicators.filter((i) => i.startsWith("zip."))).toEqual([]);
  });
});
