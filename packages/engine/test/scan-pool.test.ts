import { cpSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
// The built package: its worker thread runs the compiled scan-worker.js, as an installed engine's does.
import { POOL_MIN_FILES, scanTargets, type ScanOptions, type ScanProgress, type ScanReport } from "../dist/index.js";
import { WorkEstimate } from "../src/scan-pool.js";
import { FakeHub, smallFile } from "./support/hub-server.js";
import { fixture } from "./helpers.js";

const FIXTURES = join(import.meta.dirname, "fixtures");
const SHA = "e".repeat(40);
const hub = new FakeHub();
let folder: string;

beforeAll(async () => {
  folder = mkdtempSync(join(tmpdir(), "modelvet-pool-"));
  cpSync(join(FIXTURES, "adversarial"), join(folder, "adversarial"), { recursive: true });
  cpSync(join(FIXTURES, "containers"), join(folder, "containers"), { recursive: true });
  const payload = fixture("adversarial/o6-inst.pkl");
  for (let i = 0; i < POOL_MIN_FILES; i++)
    writeFileSync(
      join(folder, `p${i}.pkl`),
      i % 7 === 0 ? payload : Buffer.from(`\x80\x02K${String.fromCharCode(i)}.`, "latin1"),
    );
  await hub.start();
  hub.addRepo({
    id: "acme/pool",
    refs: { main: SHA },
    commits: {
      [SHA]: [
        smallFile("model.pkl", payload, { lfs: true }),
        smallFile("benign.pkl", fixture("adversarial/copyreg-reconstructor-p2.pkl")),
      ],
    },
  });
});
afterAll(() => hub.stop());

const scan = (targets: string[], extra: Partial<ScanOptions> = {}) =>
  scanTargets(targets, { cacheDir: false, hub: { endpoint: hub.hubUrl }, ...extra });

function withoutTimings(report: ScanReport): ScanReport {
  const { duration_ms: _d, threads: _t, ...stats } = report.stats;
  return { ...report, stats: stats as ScanReport["stats"] };
}

describe("worker threads", () => {
  it("a pooled scan (the package's own worker script) equals the serial one", async () => {
    const serial = await scan([folder]);
    const pooled = await scan([folder], { jobs: 3, startWorkers: "at-once" });
    expect(serial.stats.threads).toBeUndefined();
    expect(pooled.stats.threads).toBe(3);
    expect(withoutTimings(pooled)).toEqual(withoutTimings(serial));
    expect(serial.severity).toBe(3);
  });

  it("Hub files stay on this thread beside local files spread over workers", async () => {
    const targets = ["hf://acme/pool", folder];
    const serial = await scan(targets);
    const pooled = await scan(targets, { jobs: 2, startWorkers: "at-once" });
    expect(pooled.stats.threads).toBe(2);
    expect(withoutTimings(pooled)).toEqual(withoutTimings(serial));
    expect(pooled.scanned_files.filter((f) => f.path.startsWith("hf://")).map((f) => f.severity)).toEqual([3, 1]);
  });

  it("a worker that cannot start hands every file back: same report, one thread, a warning", async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on("warning", onWarning);
    try {
      const broken = join(mkdtempSync(join(tmpdir(), "modelvet-pool-broken-")), "worker.mjs");
      writeFileSync(broken, 'throw new Error("worker script broken on purpose");\n');
      const serial = await scan([folder]);
      const pooled = await scan([folder], {
        jobs: 2,
        startWorkers: "at-once",
        workerUrl: new URL(`file://${broken}`),
      });
      expect(pooled.stats.threads).toBeUndefined();
      expect(withoutTimings(pooled)).toEqual(withoutTimings(serial));
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.some((w) => w.includes("worker script broken on purpose"))).toBe(true);
    } finally {
      process.off("warning", onWarning);
    }
  });

  it("progress counts every file once, from workers and from this thread", async () => {
    const updates: ScanProgress[] = [];
    const report = await scan([folder], {
      jobs: 2,
      startWorkers: "at-once",
      progressIntervalMs: 5,
      onProgress: (p) => updates.push(p),
    });
    expect(report.stats.threads).toBe(2);
    const done = updates.map((u) => u.filesDone);
    expect(done).toEqual([...done].sort((a, b) => a - b));
    const last = updates.at(-1)!;
    expect(last.filesDone).toBe(report.stats.files);
    expect(last.filesTotal).toBe(report.stats.files);
    expect(last.bytesRead).toBe(report.stats.bytes_read);
    expect(last.active).toEqual([]);
  });

  it("by default, a folder that scans in well under POOL_MIN_WORK_MS starts no thread", async () => {
    const report = await scan([folder], { jobs: 4 });
    expect(report.stats.threads).toBeUndefined();
  });
});

describe("the estimate that starts workers", () => {
  const T0 = 1_000_000;

  it("waits out the warm-up, then judges by the rate after it", () => {
    const estimate = new WorkEstimate(T0, 3000);
    for (let i = 0; i < 10; i++) estimate.fileDone();
    // Cold code: 10 ms per file so far, but no decision inside the first 100 ms…
    expect(estimate.worthWorkers(T0 + 99, 10_000)).toBe(false);
    // …nor before the measuring window (from 100 ms on) is itself 100 ms long.
    expect(estimate.worthWorkers(T0 + 100, 10_000)).toBe(false);
    for (let i = 0; i < 200; i++) estimate.fileDone();
    // 200 files in 100 ms: 0.5 ms each; 5,000 left take 2.5 s < 3 s, 7,000 take 3.5 s.
    expect(estimate.worthWorkers(T0 + 200, 5_000)).toBe(false);
    expect(estimate.worthWorkers(T0 + 200, 7_000)).toBe(true);
  });

  it("a single slow file still gives a rate", () => {
    const estimate = new WorkEstimate(T0, 3000);
    expect(estimate.worthWorkers(T0 + 150, 100)).toBe(false);
    estimate.fileDone();
    // One file took the whole window of 400 ms: 100 more take 40 s.
    expect(estimate.worthWorkers(T0 + 550, 100)).toBe(true);
    expect(estimate.worthWorkers(T0 + 550, 5)).toBe(false);
  });
});
