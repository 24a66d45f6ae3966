import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { deflateSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { BufferSource, DEFAULT_SCAN_LIMITS, FileSource } from "../src/index.js";
import { xxh32 } from "../src/containers/xxh32.js";
import { FIXTURES } from "./helpers.js";
import { judgeSource } from "./compressed-helpers.js";

// Fail-closed checks of the compression wrappers: LZ4 checksums, absolute decompressed-size caps (per stream and
// per file), data after a zlib stream. Fixtures: fixtures/limits/generate.py (python3-lz4 writes the LZ4 frames).

const dir = join(FIXTURES, "limits");
const CLI = join(import.meta.dirname, "..", "..", "cli", "bin", "modelvet.js");
const judgeFile = async (name: string, limits?: Parameters<typeof judgeSource>[1]) =>
  judgeSource(await FileSource.open(join(dir, name)), limits);
const messages = (j: Awaited<ReturnType<typeof judgeSource>>): string =>
  j.inventory.indicators.map((i) => `${i.id}: ${i.message}`).join("\n");

describe("LZ4 frame checksums (verified like liblz4)", () => {
  it("XXH32 gives the specification's known answers", () => {
    const enc = new TextEncoder();
    expect(xxh32(enc.encode(""))).toBe(0x02cc5d05);
    expect(xxh32(enc.encode("a"))).toBe(0x550d7456);
    expect(xxh32(enc.encode("abc"))).toBe(0x32d153ff);
    expect(xxh32(enc.encode("Nobody inspects the spammish repetition"))).toBe(0xe2293b2f);
  });

  it("a frame with block and content checksums that hold passes", async () => {
    const judged = await judgeFile("benign-checksums.lz4");
    expect(judged.severity).toBe(1);
    expect(judged.formats).toContain("pickle");
  });

  it.each(["content", "block", "header"])("a failing %s checksum is compression.corrupt (Warning)", async (kind) => {
    const judged = await judgeFile(`benign-${kind}-checksum.lz4`);
    expect(judged.severity).toBe(2);
    expect(judged.indicators).toContain("compression.corrupt");
    expect(messages(judged)).toContain(`${kind === "header" ? "frame header" : kind} checksum mismatch`);
  });

  it.each(["content", "block"])("a payload before a failing %s checksum is still read: Alert", async (kind) => {
    const judged = await judgeFile(`payload-${kind}-checksum.lz4`);
    expect(judged.severity).toBe(3);
    expect(judged.flagged).toContain("os.system");
    expect(judged.indicators).toContain("compression.corrupt");
  });
});

describe("absolute decompressed-size caps", () => {
  const MiB = 1024 * 1024;

  it("the default per-stream cap is a named limit below LZ4's reach at its ~255:1 ratio", () => {
    expect(DEFAULT_SCAN_LIMITS.maxMemberDecompressedBytes).toBeLessThan(4 * 1024 ** 3);
    expect(DEFAULT_SCAN_LIMITS.maxMemberDecompressedBytes).toBeLessThanOrEqual(
      DEFAULT_SCAN_LIMITS.maxDecompressedBytes,
    );
  });

  it.each(["big.pkl.gz", "big.pkl.z", "big.pkl.bz2", "big.pkl.xz", "big.pkl.lzma", "big.pkl.lz4"])(
    "%s (3 MiB out, no ratio alarm) is Pass under the defaults and a Warning naming the per-stream cap",
    async (name) => {
      expect((await judgeFile(name)).severity).toBe(1);
      const judged = await judgeFile(name, { maxMemberDecompressedBytes: MiB });
      expect(judged.severity).toBe(2);
      expect(judged.indicators).toContain("scan.limit");
      expect(messages(judged)).toMatch(/maxMemberDecompressedBytes \(1048576 bytes\)/);
      // Bounded: decoding stopped within one output chunk of the cap.
      expect(judged.inventory.indicators.some((i) => /suspected decompression bomb/.test(i.message))).toBe(false);
    },
  );

  it("an LZ4 stream at ~250:1 passes the ratio cap but not the per-stream cap", async () => {
    const judged = await judgeFile("bomb.pkl.lz4", { maxMemberDecompressedBytes: 8 * MiB });
    expect(judged.severity).toBe(2);
    expect(messages(judged)).toMatch(/maxMemberDecompressedBytes/);
    expect(messages(judged)).not.toMatch(/expands more than/);
  });

  it("the per-file cap is a Warning that names it", async () => {
    const judged = await judgeFile("big.pkl.xz", { maxDecompressedBytes: 2 * MiB });
    expect(judged.severity).toBe(2);
    expect(messages(judged)).toMatch(/maxDecompressedBytes \(2097152 bytes\)/);
  });
});

describe("zlib: the stream must be the whole file and its Adler-32 must hold", () => {
  it("an intact stream passes", async () => {
    expect((await judgeFile("intact.z")).severity).toBe(1);
  });

  it.each(["trailing-junk.z", "trailing-stream.z"])("%s: bytes after the stream end are a Warning", async (name) => {
    const judged = await judgeFile(name);
    expect(judged.severity).toBe(2);
    expect(judged.indicators).toContain("compression.trailing_data");
    expect(judged.formats).toContain("pickle"); // the stream's own content was still read
  });

  it("a ZIP after the stream is read too (torch.load would open it): Alert", async () => {
    const judged = await judgeFile("trailing-zip.z");
    expect(judged.severity).toBe(3);
    expect(judged.flagged).toContain("os.system");
    expect(judged.indicators).toContain("compression.trailing_data");
  });

  it("a pickle read to its STOP, then more data and a bad Adler-32, is a Warning", async () => {
    const pickle = Uint8Array.of(0x80, 0x04, 0x4b, 0x07, 0x2e, ...new Uint8Array(1000).fill(0x4e));
    const z = deflateSync(pickle);
    z[z.length - 1]! ^= 1;
    const judged = await judgeSource(new BufferSource(z, "model.joblib"));
    expect(judged.severity).toBe(2);
    expect(judged.indicators).toContain("compression.corrupt");
  });

  it("a pickle too large to hold (streamed through the machine) with a bad Adler-32 is a Warning", async () => {
    // 70 MiB of a 64 KiB pseudo-random pattern: deflate's 32 KiB window cannot shrink it, so no ratio alarm.
    const pattern = new Uint8Array(64 * 1024).map((_, i) => (i * 2654435761) >>> 24);
    const n = 70 * 1024 * 1024;
    const body = new Uint8Array(n + 12);
    body.set([0x80, 0x04, 0x8e], 0);
    new DataView(body.buffer).setBigUint64(3, BigInt(n), true);
    for (let at = 11; at < 11 + n; at += pattern.length) body.set(pattern.subarray(0, 11 + n - at), at);
    body[11 + n] = 0x2e;
    const z = deflateSync(body, { level: 1 });
    z[z.length - 1]! ^= 1;
    const judged = await judgeSource(new BufferSource(z, "model.joblib"));
    expect(judged.severity).toBe(2);
    expect(judged.indicators).toContain("compression.corrupt");
  }, 60_000);
});

describe("gzip: members read the way Python's gzip reads them", () => {
  it.each(["two-members.gz", "zero-padded.gz"])("%s passes", async (name) => {
    const judged = await judgeFile(name);
    expect(judged.severity).toBe(1);
    expect(judged.formats).toContain("pickle");
  });

  it("junk after the last member is a Warning, and the member before it is read", async () => {
    const judged = await judgeFile("trailing-junk.gz");
    expect(judged.severity).toBe(2);
    expect(judged.indicators).toEqual(["compression.trailing_data"]);
    expect(judged.formats).toContain("pickle");
  });

  it.each(["payload-trailing-junk.gz", "trailing-zip.gz"])("%s: the payload is found: Alert", async (name) => {
    const judged = await judgeFile(name);
    expect(judged.severity).toBe(3);
    expect(judged.flagged).toContain("os.system");
    expect(judged.indicators).toContain("compression.trailing_data");
  });
});

describe("through the CLI", () => {
  const scan = (...args: string[]): { severity: number; text: string } => {
    let out: string;
    try {
      out = execFileSync(process.execPath, [CLI, "scan", "--no-cache", "--format", "json", ...args], {
        encoding: "utf8",
      });
    } catch (e) {
      out = (e as { stdout: string }).stdout;
    }
    return { severity: (JSON.parse(out) as { severity: number }).severity, text: out };
  };

  it("reports the caps, the checksums and trailing data", () => {
    const capped = scan("--max-member-decompressed", "1048576", join(dir, "big.pkl.lz4"));
    expect(capped.severity).toBe(2);
    expect(capped.text).toContain("maxMemberDecompressedBytes");
    const perFile = scan("--max-decompressed", "1048576", join(dir, "big.pkl.gz"));
    expect(perFile.severity).toBe(2);
    expect(perFile.text).toContain("maxDecompressedBytes");
    expect(scan(join(dir, "big.pkl.lz4")).severity).toBe(1);
    expect(scan(join(dir, "benign-content-checksum.lz4")).severity).toBe(2);
    expect(scan(join(dir, "payload-block-checksum.lz4")).severity).toBe(3);
    expect(scan(join(dir, "trailing-junk.z")).severity).toBe(2);
    expect(scan(join(dir, "trailing-zip.z")).severity).toBe(3);
    expect(scan(join(dir, "payload-trailing-junk.gz")).severity).toBe(3);
  });
});
