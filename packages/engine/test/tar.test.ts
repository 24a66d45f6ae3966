import { describe, expect, it } from "vitest";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { BufferSource, inspect, loadClassifier, judge } from "../src/index.js";
import { CONTAINERS, ZIP_INDICATORS, concatBytes, membersOf, scanFixture, ustar } from "./containers-helpers.js";

// Fixtures: fixtures/containers/generate_zip.py (Python's tarfile writes the GNU and pax headers). torch.load
// opens every file with tarfile first (legacy_load), so a tar can carry pickles torch runs.

const PAYLOAD = Uint8Array.from("cposix\nsystem\n(Vecho modelvet-test\ntR.", (c) => c.charCodeAt(0));

async function judgeBytes(bytes: Uint8Array, name = "buffer.tar", limits = {}) {
  const inventory = await inspect(new BufferSource(bytes, name), limits);
  return { inventory, report: judge(inventory, await loadClassifier({ rulesFiles: [ZIP_INDICATORS] })) };
}

describe("tar", () => {
  it("reads GNU long names, reports ../ names and links, and scans every member", async () => {
    const scanned = await scanFixture("tar_gnu_hostile.tar");
    expect(scanned.severity).toBe(3);
    expect(scanned.formats).toContain("tar");
    const members = membersOf(scanned, "posix.system");
    expect(members).toContain("../escape.pkl");
    expect(members).toContain("deep/".repeat(30) + "payload.pkl");
    expect(scanned.indicators).toEqual(expect.arrayContaining(["tar.path_traversal", "tar.link"]));
  });

  it("reads pax paths and reads on past a bad checksum (tarfile stops there)", async () => {
    const scanned = await scanFixture("tar_pax_bad_checksum.tar");
    expect(scanned.severity).toBe(3);
    expect(membersOf(scanned, "builtins.eval")).toEqual(["p/" + "x".repeat(120) + ".pkl"]);
    expect(membersOf(scanned, "posix.system")).toEqual(["second.pkl"]);
    expect(scanned.indicators).toContain("tar.checksum_mismatch");
  });

  it("scans members as slices, by content, whatever their names", async () => {
    const { inventory, report } = await judgeBytes(
      ustar([
        { name: "notes.txt", data: new TextEncoder().encode("hello\n") },
        { name: "weights.bin", data: PAYLOAD },
      ]),
    );
    expect(report.severity).toBe(3);
    expect(inventory.imports.map((i) => `${i.module}.${i.name}@${i.member}`)).toEqual(["posix.system@weights.bin"]);
  });

  it("bounds the member count", async () => {
    const members = Array.from({ length: 30 }, (_, i) => ({ name: `m${i}`, data: new Uint8Array([0x41]) }));
    const { report } = await judgeBytes(ustar(members), "many.tar", { maxMembers: 10 });
    expect(report.indicators.map((i) => i.id)).toContain("tar.too_many_members");
    expect(report.severity).toBe(2);
  });

  it("reports a member cut off by the end of the file and scans what is there", async () => {
    const full = ustar([{ name: "payload.pkl", data: concatBytes(PAYLOAD, new Uint8Array(2000)) }]);
    const { report } = await judgeBytes(full.subarray(0, 512 + PAYLOAD.length + 100));
    expect(report.indicators.map((i) => i.id)).toContain("tar.truncated");
    expect(report.unsafe_dependencies.map((d) => `${d.module}.${d.name}`)).toContain("posix.system");
  });

  it("survives random damage: findings or Warnings, never a crash", async () => {
    const original = await readFile(join(CONTAINERS, "legacy_tar_payload_in_storages.pt"));
    let seed = 777;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let round = 0; round < 150; round++) {
      const bytes = Uint8Array.from(original);
      // Damage the headers and the pickles (the first 4 KiB), where the parsers work.
      for (let k = 0; k < 1 + random(8); k++) bytes[random(4096)] = random(256);
      const inventory = await inspect(new BufferSource(bytes, "mutant.tar"));
      expect(inventory.errors, `round ${round}`).toEqual([]);
    }
  });
});
