import { spawnSync } from "node:child_process";
import { chmodSync, cpSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";

// `--jobs`: worker threads scan a folder of many files; the report must not depend on how files were spread.

const ROOT = join(import.meta.dirname, "..", "..", "..");
const BIN = join(ROOT, "node_modules", ".bin", "modelvet");
const FIXTURES = join(ROOT, "packages", "engine", "test", "fixtures");

// As root, an unreadable file needs an unprivileged user who can still reach the CLI (see cli-ci.test.ts).
const asRoot = process.getuid?.() === 0;
const dropPrivileges = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"];
const canMakeUnreadable =
  !asRoot || spawnSync(dropPrivileges[0]!, [...dropPrivileges.slice(1), "test", "-r", BIN]).status === 0;
if (!canMakeUnreadable) console.log(`cli-jobs: no unreadable file in the mix (uid 65534 cannot reach ${BIN})`);

function run(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const [command, ...prefix] = asRoot && canMakeUnreadable ? [...dropPrivileges, BIN] : [BIN];
  const result = spawnSync(command, [...prefix, ...args], {
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1" },
    maxBuffer: 1 << 26,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** The report without what may differ between runs: the duration and how many threads took part. */
function comparable(json: string): unknown {
  const report = JSON.parse(json) as { stats: Record<string, unknown> };
  delete report.stats.duration_ms;
  delete report.stats.threads;
  return report;
}

let mix: string;

beforeAll(() => {
  mix = mkdtempSync(join(tmpdir(), "modelvet-jobs-"));
  chmodSync(mix, 0o755);
  // Malicious and benign pickles, torch zips, tars, 7z, compressed joblibs, templates, safetensors, GGUF…
  for (const folder of ["adversarial", "containers", "compressed", "formats", "generated", "forwarders"])
    cpSync(join(FIXTURES, folder), join(mix, folder), { recursive: true });
  // Many small benign and malicious pickles in one folder, each its own content.
  const small = join(mix, "small");
  cpSync(join(FIXTURES, "adversarial"), small, { recursive: true });
  const payload = readFileSync(join(FIXTURES, "adversarial", "o6-inst.pkl"));
  for (let i = 0; i < 120; i++) {
    const benign = Buffer.from(
      `\x80\x02]q\x00(K${String.fromCharCode(i % 200)}X\x03\x00\x00\x00a${i % 10}be.`,
      "latin1",
    );
    writeFileSync(join(small, `benign-${i}.pkl`), i % 10 === 3 ? payload : benign);
  }
  // Files above the small-file size, whose inventories the cache keeps: a big byte string, benign or with a call.
  for (let i = 0; i < 6; i++) {
    const blob = Buffer.alloc(300 * 1024 + i, i);
    const length = Buffer.alloc(4);
    length.writeUInt32LE(blob.length);
    const call = i % 2 ? Buffer.from("cposix\nsystem\n", "latin1") : Buffer.alloc(0);
    const tail = i % 2 ? Buffer.from("\x85R.", "latin1") : Buffer.from(".", "latin1");
    writeFileSync(
      join(mix, `large-${i}.pkl`),
      Buffer.concat([Buffer.from("\x80\x03", "latin1"), call, Buffer.from("B"), length, blob, tail]),
    );
  }
  if (canMakeUnreadable) {
    writeFileSync(join(small, "secret.pkl"), payload);
    chmodSync(join(small, "secret.pkl"), 0o000);
  }
});

describe("--jobs", () => {
  it("serial and parallel scans of a mixed folder give the same report, exit code and messages", () => {
    const files = readdirSync(mix, { recursive: true }).length;
    expect(files).toBeGreaterThan(200);
    const serial = run(["scan", mix, "--format", "json", "--no-cache", "--jobs", "1"]);
    const parallel = run(["scan", mix, "--format", "json", "--no-cache", "--jobs", "2"]);
    expect(serial.status, serial.stderr).toBe(canMakeUnreadable ? 2 : 1);
    expect(parallel.status).toBe(serial.status);
    expect(parallel.stderr).toBe(serial.stderr);
    expect(comparable(parallel.stdout)).toEqual(comparable(serial.stdout));
    const serialStats = (JSON.parse(serial.stdout) as { stats: { threads?: number } }).stats;
    const parallelStats = (JSON.parse(parallel.stdout) as { stats: { threads?: number } }).stats;
    expect(serialStats.threads).toBeUndefined();
    expect(parallelStats.threads).toBe(2);
    const report = JSON.parse(parallel.stdout) as {
      severity: number;
      unreadable_files?: Array<{ path: string }>;
      file_security_reports: Array<{ path: string; severity: number }>;
    };
    expect(report.severity).toBe(3);
    if (canMakeUnreadable)
      expect(report.unreadable_files).toEqual([{ path: join(mix, "small", "secret.pkl"), error: "EACCES" }]);
    const alerts = report.file_security_reports.filter((f) => f.severity === 3).map((f) => f.path);
    for (let i = 3; i < 120; i += 10) expect(alerts).toContain(join(mix, "small", `benign-${i}.pkl`));
  });

  it("SARIF and text reports match too (timings aside)", () => {
    for (const format of ["sarif", "text"]) {
      const strip = (text: string) =>
        text.replace(/"(startTimeUtc|endTimeUtc)": "[^"]*"/g, "").replace(/\bin \d+(\.\d+)? ?m?s\b/g, "");
      const serial = run(["scan", mix, "--format", format, "--no-cache", "--jobs", "1"]);
      const parallel = run(["scan", mix, "--format", format, "--no-cache", "--jobs", "3"]);
      expect(parallel.status, format).toBe(serial.status);
      expect(strip(parallel.stdout), format).toBe(strip(serial.stdout));
    }
  });

  it("worker threads read and fill the cache as this thread does", () => {
    const cached = (jobs: string) => {
      const dir = mkdtempSync(join(tmpdir(), "modelvet-jobs-cache-"));
      chmodSync(dir, 0o777);
      const first = run(["scan", mix, "--format", "json", "--cache-dir", dir, "--jobs", jobs]);
      const second = run(["scan", mix, "--format", "json", "--cache-dir", dir, "--jobs", jobs]);
      return { first: JSON.parse(first.stdout) as CachedReport, second: JSON.parse(second.stdout) as CachedReport };
    };
    const serial = cached("1");
    const parallel = cached("2");
    const verdicts = (r: CachedReport) => r.scanned_files.map((f) => `${f.path} ${f.severity}`);
    expect(verdicts(parallel.first)).toEqual(verdicts(serial.first));
    expect(verdicts(parallel.second)).toEqual(verdicts(serial.first));
    // Small files are rescanned from memory rather than looked up; complete readings of larger ones are cached.
    expect(parallel.first.stats.cached_files).toBe(0);
    expect(serial.second.stats.cached_files).toBeGreaterThanOrEqual(6);
    expect(parallel.second.stats.cached_files).toBe(serial.second.stats.cached_files);
    expect(parallel.second.stats.threads).toBe(2);
  });
});

interface CachedReport {
  scanned_files: Array<{ path: string; severity: number }>;
  stats: { cached_files: number; threads?: number };
}
