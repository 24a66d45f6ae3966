// Local files are read two ways: small ones whole, in one synchronous read, larger ones by positioned reads as the
// readers ask. Both must give the same inventory, and the cache must only be used where it saves work.
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BufferSource, FileSource, inspect, scanPaths, type ScanReport } from "../src/index.js";
import { SMALL_FILE_BYTES } from "../src/source/byte-source.js";
import { fixture, tempFolder } from "./helpers.js";

/** A protocol-2 pickle calling posix.system, padded with a large BINUNICODE string before the call. */
function payloadPickle(padding: number): Uint8Array {
  const pad = Buffer.alloc(padding, 0x61);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(padding);
  return Buffer.concat([
    Buffer.from([0x80, 0x02, 0x58]), // PROTO 2, BINUNICODE
    len,
    pad,
    Buffer.from([0x30]), // POP
    Buffer.from("cposix\nsystem\nX\x02\x00\x00\x00id\x85R.", "latin1"),
  ]);
}

const stable = (report: ScanReport) =>
  JSON.stringify({ ...report, stats: { ...report.stats, duration_ms: 0 } }, null, 1);

describe("local files, small and large", () => {
  const dir = tempFolder("local-files");
  const sizes = [0, 1, 300, SMALL_FILE_BYTES - 40, SMALL_FILE_BYTES + 1, 3 * SMALL_FILE_BYTES];

  it("gives the same inventory whether a file is read whole or by positioned reads", async () => {
    for (const size of sizes) {
      const bytes = size < 40 ? new Uint8Array(size) : payloadPickle(size - 40);
      const path = join(dir(), `p-${size}.pkl`);
      writeFileSync(path, bytes);
      const fromFile = await FileSource.open(path);
      const viaFile = await inspect(fromFile);
      await fromFile.close();
      const viaBuffer = await inspect(new BufferSource(bytes, path));
      expect(viaBuffer).toEqual(viaFile);
      const [scanned] = (await scanPaths([path], { cacheDir: false })).scanned_files;
      expect(scanned!.bytes_read, `size ${size}`).toBe(viaFile.bytes_read);
      if (size >= 40) expect(scanned!.severity, `size ${size}`).toBe(3);
    }
  });

  it("hashes every file for the report, but caches only files worth caching", async () => {
    const cacheDir = join(dir(), "cache");
    const folder = join(dir(), "mixed");
    mkdirSync(folder);
    writeFileSync(join(folder, "small.pkl"), fixture("adversarial/getattr-import-chain.pkl"));
    writeFileSync(join(folder, "large.pkl"), payloadPickle(2 * SMALL_FILE_BYTES));
    const first = await scanPaths([folder], { cacheDir });
    const second = await scanPaths([folder], { cacheDir });
    const byName = (r: ScanReport, name: string) => r.scanned_files.find((f) => f.path.endsWith(name))!;
    const hashOf = (r: ScanReport, name: string) => r.file_security_reports.find((f) => f.path.endsWith(name))?.sha256;
    expect(hashOf(first, "small.pkl")).toMatch(/^[0-9a-f]{64}$/);
    expect(hashOf(second, "small.pkl")).toBe(hashOf(first, "small.pkl"));
    expect(hashOf(second, "large.pkl")).toMatch(/^[0-9a-f]{64}$/);
    expect(byName(second, "small.pkl").cached).toBeUndefined();
    expect(byName(second, "large.pkl").cached).toBe(true);
    expect(second.stats.cached_files).toBe(1);
    expect(byName(second, "small.pkl").severity).toBe(byName(first, "small.pkl").severity);
    expect(byName(second, "large.pkl").severity).toBe(3);
  });

  it("lists a folder by its entries' types, following symlinks to files but not to folders", async () => {
    const folder = join(dir(), "tree");
    mkdirSync(join(folder, "b", "c"), { recursive: true });
    writeFileSync(join(folder, "b", "c", "z.pkl"), payloadPickle(10));
    writeFileSync(join(folder, "a.pkl"), payloadPickle(10));
    symlinkSync(join(folder, "a.pkl"), join(folder, "link.pkl"));
    symlinkSync(join(folder, "b"), join(folder, "linked-folder"));
    const report = await scanPaths([folder], { cacheDir: false });
    expect(report.scanned_files.map((f) => f.path.slice(folder.length + 1))).toEqual([
      "a.pkl",
      "link.pkl",
      "b/c/z.pkl",
    ]);
    const again = await scanPaths([folder], { cacheDir: false });
    expect(stable(again)).toBe(stable(report));
  });
});
