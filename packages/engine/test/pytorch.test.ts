import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deflateRawSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { SHARED, describeShared } from "./helpers.js";
import { HAVE_SHARED, membersOf, scanFile, scanFixture, writeZip, type Scanned } from "./containers-helpers.js";

// Fixtures: fixtures/containers/generate_zip.py. The benign baselines there are real torch.save / torch.jit.save
// output of Debian's torch 1.13; the legacy tar fixture was checked to load with that torch's legacy_load.

/** Findings that come from the container and torch readers (not from the rules for imports). */
function readerFindings(scanned: Scanned): string[] {
  return (scanned.file?.indicators ?? [])
    .filter((i) => /^(zip|tar|pytorch|torchscript)\./.test(i.id) && i.severity > 1)
    .map((i) => `${i.id}: ${i.message}`);
}

/**
 * TorchScript pickles name `__torch__.*` classes (compiled from the archive's own code/, resolved by the C++
 * unpickler, never imported from Python) and `torch.jit._pickle.build_*` helpers (in the .debug_pkl files). How
 * the rules pack grades them is the lead's decision; until then they are the only non-Pass imports allowed here.
 */
const TORCHSCRIPT_GLOBAL = /^(__torch__\.|torch\.jit\._pickle\.)/;

describe("TorchScript archives", () => {
  it("lists the code of a real torch.jit.save archive without flagging it", async () => {
    const scanned = await scanFixture("benign_torchscript.pt");
    expect(scanned.formats).toEqual(expect.arrayContaining(["zip", "pytorch", "torchscript"]));
    expect(scanned.indicators).toContain("torchscript.code");
    expect(readerFindings(scanned)).toEqual([]);
    expect(scanned.globals.filter((g) => !TORCHSCRIPT_GLOBAL.test(g))).toEqual([]);
  });

  it.each(["torchscript_dangerous_code.pt", "torchscript_deflated_code.pt"])(
    "flags source that reaches Python (%s)",
    async (name) => {
      const scanned = await scanFixture(name);
      expect(scanned.severity).toBe(3);
      const calls = scanned.file!.indicators.filter((i) => i.id === "torchscript.dangerous_call");
      expect(calls).toHaveLength(1);
      expect(calls[0]!.message).toContain('os.system("echo modelvet-test")');
      expect(calls[0]!.locations[0]!.member).toMatch(/\/code\/.*\.py$/);
    },
  );

  it("ignores dangerous names inside string literals and comments, and catches file operators", async () => {
    const dir = await mkdtemp(join(tmpdir(), "modelvet-ts-"));
    try {
      const source = [
        "class M(Module):",
        "  def forward(self: __torch__.M, x: Tensor) -> Tensor:",
        '    torch._assert(False, "could not open(file) with os.path")  # eval(x) in a comment',
        "    _0 = self.open_count",
        '    t = torch.from_file("/etc/passwd", False, 16)',
        "    return x",
      ].join("\n");
      const code = new TextEncoder().encode(source);
      const path = join(dir, "ts.pt");
      await writeZip(path, [
        { name: "ts/data.pkl", data: new Uint8Array([0x80, 0x02, 0x29, 0x2e]) },
        { name: "ts/code/__torch__/m.py", data: code, method: 8, stored: deflateRawSync(code) },
        { name: "ts/constants.pkl", data: new Uint8Array([0x80, 0x02, 0x29, 0x2e]) },
      ]);
      const scanned = await scanFile(path);
      const calls = scanned.file!.indicators.filter((i) => i.id === "torchscript.dangerous_call");
      expect(calls.map((c) => c.message)).toEqual([expect.stringContaining("line 5: t = torch.from_file")]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("pre-0.4 tar checkpoints (torch.load's legacy_load)", () => {
  it("reads the storages and tensors members record by record", async () => {
    const scanned = await scanFixture("legacy_tar_benign.pt");
    expect(scanned.formats).toEqual(expect.arrayContaining(["tar", "pytorch-legacy-tar", "pickle"]));
    expect(readerFindings(scanned)).toEqual([]);
    expect(scanned.globals).not.toContain("posix.system");
    // torch.FloatTensor (the legacy tensor type in `tensors`) is for the rules pack to grade; nothing else is odd.
    expect(scanned.globals.filter((g) => g !== "torch.FloatTensor")).toEqual([]);
  });

  it("finds a payload in the main pickle", async () => {
    const scanned = await scanFixture("legacy_tar_payload_in_pickle.pt");
    expect(scanned.severity).toBe(3);
    expect(membersOf(scanned, "posix.system")).toEqual(["pickle"]);
  });

  it("finds a payload in a storage record (legacy_load unpickles it before the raw data)", async () => {
    const scanned = await scanFixture("legacy_tar_payload_in_storages.pt");
    expect(scanned.severity).toBe(3);
    expect(membersOf(scanned, "posix.system")).toEqual(["storages"]);
    expect(readerFindings(scanned)).toEqual([]);
  });

  it("fails closed when a storage class is unknown (its raw data cannot be skipped exactly)", async () => {
    const scanned = await scanFixture("legacy_tar_unknown_storage.pt");
    expect(scanned.severity).toBeGreaterThanOrEqual(2);
    expect(scanned.indicators).toContain("pytorch.legacy_unparsed");
  });

  // C10: five pickles back to back (magic, protocol, sys_info, object, storage keys), payload in the 4th.
  it("C10: the legacy pickle stream is scanned past the first pickle", async () => {
    const scanned = await scanFixture("c10_legacy_stream.pt");
    expect(scanned.severity).toBe(3);
    expect(scanned.globals).toContain("posix.system");
    expect(scanned.formats).toContain("pytorch-legacy");
  });
});

interface ManifestEntry {
  path: string;
  format: string;
  expected_severity: number;
  expected_globals?: string[];
}

function manifest(dir: string): ManifestEntry[] {
  return (JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as { files: ManifestEntry[] }).files;
}

describeShared("real torch files of the shared corpora", () => {
  // describe.skipIf still runs this body to collect tests: list the folders only when they exist.
  const benign = (
    HAVE_SHARED
      ? [
          ...readdirSync(join(SHARED, "corpus", "benign", "torch")).map((f) =>
            join(SHARED, "corpus", "benign", "torch", f),
          ),
          ...readdirSync(join(SHARED, "corpus-benign", "files", "torch")).map((f) =>
            join(SHARED, "corpus-benign", "files", "torch", f),
          ),
        ]
      : []
  ).filter((f) => /\.(pt|ckpt|bin)$/.test(f));

  it.each(benign.map((f) => [f.slice(SHARED.length + 1), f]))("benign %s", async (_label, path) => {
    const scanned = await scanFile(path);
    expect(readerFindings(scanned)).toEqual([]);
    if (path.endsWith("whole_module_custom_class.pt")) {
      expect(scanned.severity).toBe(2); // tinynet.TinyNet: a user class no allow-list can know
      expect(scanned.globals).toEqual(["tinynet.TinyNet"]);
    } else if (scanned.formats.includes("torchscript")) {
      expect(scanned.globals.filter((g) => !TORCHSCRIPT_GLOBAL.test(g))).toEqual([]);
    } else if (scanned.formats.includes("zip")) {
      expect(scanned.severity).toBe(1);
    }
  });

  const malicious = (HAVE_SHARED ? manifest(join(SHARED, "corpus")) : []).filter((e) =>
    e.path.startsWith("malicious/torch/"),
  );
  // Bytes only: these files are never loaded with Python or torch.
  it.each(malicious.map((e) => [e.path, e]))("malicious %s", async (_label, entry) => {
    const scanned = await scanFile(join(SHARED, "corpus", entry.path));
    expect(scanned.severity).toBe(3);
    for (const g of entry.expected_globals ?? []) expect(scanned.globals).toContain(g);
  });
});
