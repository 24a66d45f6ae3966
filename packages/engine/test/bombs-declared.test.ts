import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { deflateRawSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { BufferSource, inspect, judge, loadClassifier, type ScanLimits } from "../src/index.js";
import { checkpointPickle, concatBytes, writeZip, type ZipSpec } from "./containers-helpers.js";
import { tempFolder } from "./helpers.js";

// Bombs that are never decompressed: a deflated tensor storage is skipped unread (torch reads it as numbers),
// so its declared sizes are what is judged; a pickle memo index that no pickler could have written makes
// CPython's unpickler size its memo array by it. Both end as Warnings naming the limit, through inspect() and
// through the CLI.

const CLI = join(import.meta.dirname, "..", "..", "cli", "bin", "modelvet.js");
const folder = tempFolder("modelvet-declared-");
const latin1 = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));

async function inspectFile(path: string, limits?: Partial<ScanLimits>) {
  const { FileSource } = await import("../src/index.js");
  const source = await FileSource.open(path);
  try {
    const inventory = await inspect(source, limits);
    return judge(inventory, await loadClassifier());
  } finally {
    await source.close();
  }
}

async function inspectBytes(bytes: Uint8Array, name: string) {
  const inventory = await inspect(new BufferSource(bytes, name));
  return judge(inventory, await loadClassifier());
}

function cliReport(path: string): {
  exit: number | null;
  report: { severity: number; file_security_reports: Array<{ indicators: Array<{ id: string; message: string }> }> };
} {
  const run = spawnSync(process.execPath, [CLI, "scan", "--format", "json", "--no-cache", path], { encoding: "utf8" });
  return { exit: run.status, report: JSON.parse(run.stdout) as ReturnType<typeof cliReport>["report"] };
}

const messages = (report: { indicators: Array<{ id: string; message: string }> }, id: string): string[] =>
  report.indicators.filter((i) => i.id === id).map((i) => i.message);

/** A torch checkpoint whose storages are deflated; `declared` overrides a storage's uncompressed size. */
async function checkpoint(
  name: string,
  storages: Array<{ data: Uint8Array; declared?: number }>,
  options: { zip64?: boolean; prefix?: string } = {},
): Promise<string> {
  const prefix = options.prefix ?? "archive";
  const specs: ZipSpec[] = [
    { name: `${prefix}/data.pkl`, data: checkpointPickle(storages.length) },
    ...storages.map((s, i) => ({
      name: `${prefix}/data/${i}`,
      data: s.data,
      method: 8,
      stored: deflateRawSync(s.data),
      ...(s.declared !== undefined ? { declaredSize: s.declared } : {}),
    })),
    { name: `${prefix}/version`, data: latin1("3\n") },
  ];
  const path = join(folder(), name);
  await writeZip(path, specs, options.zip64 ? { zip64: true } : {});
  return path;
}

describe("deflated storages that are never inflated are judged by their declared sizes", () => {
  it("a storage declaring 4 GiB from a few compressed bytes is a Warning naming the ratio limit", async () => {
    const path = await checkpoint("declared-4g.pt", [{ data: new Uint8Array(64), declared: 0xfffffff0 }]);
    const report = await inspectFile(path);
    const found = messages(report, "zip.compression_ratio");
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/declares 4294967280 bytes/);
    expect(found[0]).toMatch(/1000:1/);
    expect(report.indicators.find((i) => i.id === "zip.compression_ratio")?.locations[0]?.member).toBe(
      "archive/data/0",
    );
    expect(report.severity).toBeGreaterThanOrEqual(2);
  });

  it("the same declaration in ZIP64 records (a 6 GiB storage) is caught, and the CLI reports it", async () => {
    const path = await checkpoint("declared-zip64.pt", [{ data: new Uint8Array(64), declared: 6 * 1024 ** 3 }], {
      zip64: true,
    });
    const { exit, report } = cliReport(path);
    expect(exit).toBe(1); // the checkpoint's os.system call is an Alert either way
    expect(messages(report.file_security_reports[0]!, "zip.compression_ratio")[0]).toMatch(/declares 6442450944 bytes/);
  });

  it("honest deflated storages (zeros, float-like bytes) stay without a ratio finding", async () => {
    const floats = Uint8Array.from({ length: 1 << 16 }, (_, i) => (i * 2654435761) >>> 24);
    const path = await checkpoint("honest.pt", [{ data: new Uint8Array(1 << 20) }, { data: floats }]);
    const report = await inspectFile(path);
    expect(messages(report, "zip.compression_ratio")).toEqual([]);
  });

  it("the limit is the scan's maxCompressionRatio: a 4 MiB storage at ~70:1 passes at 1000:1 and warns at 10:1", async () => {
    // One varying byte in every 256: deflate stores each block as a literal and a long match.
    const sparse = Uint8Array.from({ length: 4 << 20 }, (_, i) => (i % 256 === 0 ? (i * 2654435761) >>> 24 : 0));
    const path = await checkpoint("sparse-4m.pt", [{ data: sparse }]);
    expect(messages(await inspectFile(path), "zip.compression_ratio")).toEqual([]);
    const strict = messages(await inspectFile(path, { maxCompressionRatio: 10 }), "zip.compression_ratio");
    expect(strict).toHaveLength(1);
    expect(strict[0]).toMatch(/10:1/);
  });

  it("a torch.package storage under .data/ is judged the same way", async () => {
    const specs: ZipSpec[] = [
      { name: "pkg/.data/version", data: latin1("6\n") },
      { name: "pkg/.data/extern_modules", data: latin1("") },
      {
        name: "pkg/.data/0.storage",
        data: new Uint8Array(64),
        method: 8,
        stored: deflateRawSync(new Uint8Array(64)),
        declaredSize: 0xfffffff0,
      },
    ];
    const path = join(folder(), "package.pt");
    await writeZip(path, specs);
    const report = await inspectFile(path);
    expect(messages(report, "zip.compression_ratio")).toHaveLength(1);
  });
});

/** PROTO 2, then `body`, then STOP. */
const pickle2 = (body: string): Uint8Array => latin1(`\x80\x02${body}.`);

describe("a memo index beyond anything the stream could have stored is a Warning", () => {
  const variants: Array<[string, Uint8Array, RegExp]> = [
    ["LONG_BINPUT 0xffffffff", pickle2("Nr\xff\xff\xff\xff"), /LONG_BINPUT memo index 4294967295/],
    ["BINPUT 250 after three opcodes", pickle2("Nq\xfa"), /BINPUT memo index 250/],
    ["protocol-0 PUT with a 12-digit index", latin1("Np999999999999\n."), /PUT memo index 999999999999/],
    ["LONG_BINGET 0x7fffffff of nothing stored", pickle2("N0j\xff\xff\xff\x7f"), /LONG_BINGET memo index 2147483647/],
    ["BINGET 200 of nothing stored", pickle2("N0h\xc8"), /BINGET memo index 200/],
  ];
  for (const [what, bytes, message] of variants)
    it(what, async () => {
      const report = await inspectBytes(bytes, "memo.pkl");
      const found = messages(report, "pickle.memo_index");
      expect(found).toHaveLength(1);
      expect(found[0]).toMatch(message);
      expect(report.severity).toBe(2);
    });

  it("dense indices, MEMOIZE and a memo continued across two pickles of one Pickler stay Pass", async () => {
    // protocol 4: MEMOIZE numbers by memo size; protocol 2: BINPUT 0..2 then BINGET 1.
    const memoize = latin1("\x80\x04\x95\x0e\x00\x00\x00\x00\x00\x00\x00]\x94(K\x01K\x02e]\x94h\x01a.");
    const dense = pickle2("]q\x00]q\x01]q\x02h\x01a0");
    // Pickler.dump twice without clear_memo: the second pickle's BINPUT continues at 1.
    const continued = concatBytes(pickle2("]q\x00"), pickle2("]q\x01"));
    for (const bytes of [memoize, dense, continued]) {
      const report = await inspectBytes(bytes, "fine.pkl");
      expect(messages(report, "pickle.memo_index")).toEqual([]);
    }
  });

  it("inside a torch checkpoint's data.pkl, through the CLI", async () => {
    const path = join(folder(), "memo-bomb.pt");
    await writeZip(path, [
      { name: "archive/data.pkl", data: pickle2("}r\xff\xff\xff\xff") },
      { name: "archive/version", data: latin1("3\n") },
    ]);
    const { exit, report } = cliReport(path);
    expect(exit).toBe(0); // a Warning does not fail the default --fail-on alert
    expect(report.severity).toBe(2);
    expect(messages(report.file_security_reports[0]!, "pickle.memo_index")[0]).toMatch(/4294967295/);
  });

  it("a plain file through the CLI", () => {
    const path = join(folder(), "memo-bomb.pkl");
    writeFileSync(path, pickle2("Nr\x00\x00\x00\x40"));
    const { report } = cliReport(path);
    expect(messages(report.file_security_reports[0]!, "pickle.memo_index")[0]).toMatch(/1073741824/);
  });
});
