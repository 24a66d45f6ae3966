import { afterAll, describe, expect, test } from "vitest";
import type { FakeHub } from "../../engine/test/support/hub-server.js";
import { CliCluster, createPgDatabase, registerPayloadModel, startHub, waitUntil, type CliProcess } from "./helpers.js";
import { HubGate } from "./support/hub-gate.js";

/**
 * Fail-over in scale-out mode with the production settings: a 900 s job timeout (a live scan may run that long)
 * and the default 30 s heartbeat lease. A worker killed mid-scan must see its job finished elsewhere within 60 s,
 * long before the job would expire. Scans are held mid-download by a gate in front of the test Hub, so "mid-scan"
 * is a fact, not a guess about timing.
 */
const FAILOVER_LIMIT_MS = 60_000;

interface Attempt {
  attempt: number;
  outcome: string;
  reason: string | null;
  worker?: string;
  started_at: string;
  ended_at: string | null;
}

const teardown: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const step of teardown.reverse()) await step().catch(() => undefined);
});

/** A fresh database, Hub, gate, one API server and `workers` worker processes. */
async function cluster(workers: number, concurrency: number) {
  const pgDb = (await createPgDatabase())!;
  const hub: FakeHub = await startHub();
  const gate = new HubGate(hub.hubUrl);
  await gate.start();
  const group = new CliCluster({
    hubUrl: gate.url,
    databaseUrl: pgDb.url,
    env: { MODELVET_POLL_MS: "500", MODELVET_JOB_TIMEOUT_SECONDS: "900" },
  });
  teardown.push(async () => {
    await group.stop();
    await gate.stop();
    await hub.stop();
    await pgDb.drop();
  });
  const { server, api } = await group.startServer();
  const pool = await group.startWorkers(workers, concurrency);
  const scan = async (id: string) => (await api("GET", `/file-scans/${id}`)).body;
  /** The worker process an attempt names (host:pid:id). */
  const workerOf = (attempt: Attempt | undefined): CliProcess | undefined =>
    pool.find((w) => attempt?.worker?.split(":")[1] === String(w.child.pid));
  return { api, gate, server, pool, scan, workerOf };
}

// Each test makes its own database; this one only asks whether PostgreSQL answers (skipped visibly if not).
const probe = await createPgDatabase();
await probe?.drop();

describe.skipIf(!probe)("fail-over after SIGKILL of a worker (PostgreSQL + pg-boss, 900 s job timeout)", () => {
  test.concurrent(
    "a worker killed mid-scan: another worker finishes the job within 60 s; the history shows both attempts",
    async () => {
      const { api, gate, server, pool, scan, workerOf } = await cluster(2, 1);
      const { projectId, modelId } = await registerPayloadModel(api);
      const started = await api("POST", "/file-scans", { model_id: modelId, project_id: projectId });
      expect(started.status).toBe(202);
      const id = started.body.file_scan_id as string;

      await waitUntil(
        async () => (await scan(id)).status === "running" && gate.held === 1,
        30_000,
        () => "the scan to be held mid-download",
      );
      const first = ((await scan(id)).attempts as Attempt[])[0];
      const victim = workerOf(first)!;
      expect(victim).toBeDefined();
      const survivor = pool.find((w) => w !== victim)!;
      const killedAt = Date.now();
      await victim.kill("SIGKILL");
      gate.open();

      let body: Record<string, unknown> = {};
      await waitUntil(
        async () => ["succeeded", "failed"].includes((body = await scan(id)).status as string),
        FAILOVER_LIMIT_MS + 30_000,
        () => JSON.stringify(body),
      );
      const elapsed = Date.now() - killedAt;
      console.info(`fail-over: job finished ${elapsed} ms after SIGKILL of its worker`);
      expect(body.status).toBe("succeeded");
      expect(body.severity_label).toBe("Alert");
      expect(elapsed).toBeLessThan(FAILOVER_LIMIT_MS);

      const attempts = body.attempts as Attempt[];
      expect(attempts.map((a) => [a.attempt, a.outcome])).toEqual([
        [1, "interrupted"],
        [2, "succeeded"],
      ]);
      expect(attempts[0]!.reason).toBe("its worker stopped before finishing");
      expect(workerOf(attempts[0])).toBe(victim);
      expect(workerOf(attempts[1])).toBe(survivor);
      expect(attempts[0]!.ended_at).not.toBeNull();
      // The API server has no worker: it never runs a scan.
      expect(server.logged("scan started")).toHaveLength(0);
    },
    150_000,
  );

  test.concurrent(
    "two workers, ten queued jobs, one worker killed: all ten succeed once, its jobs on a second attempt",
    async () => {
      const JOBS = 10;
      const { api, gate, pool, scan, workerOf } = await cluster(2, 2);
      const { projectId, modelId } = await registerPayloadModel(api);
      const ids: string[] = [];
      for (let i = 0; i < JOBS; i++) {
        const started = await api("POST", "/file-scans", { model_id: modelId, project_id: projectId });
        expect(started.status).toBe(202);
        ids.push(started.body.file_scan_id as string);
      }
      const all = () => Promise.all(ids.map(scan));
      // Both workers full (two scans each), every running scan held mid-download, six still queued.
      await waitUntil(
        async () => gate.held === 4 && (await all()).filter((s) => s.status === "running").length === 4,
        30_000,
        () => `four held scans (held ${gate.held})`,
      );
      const running = (await all()).filter((s) => s.status === "running");
      const victim = workerOf((running[0]!.attempts as Attempt[])[0])!;
      const survivor = pool.find((w) => w !== victim)!;
      const interrupted = running
        .filter((s) => workerOf((s.attempts as Attempt[])[0]) === victim)
        .map((s) => s.file_scan_id as string);
      expect(interrupted).toHaveLength(2);
      const killedAt = Date.now();
      await victim.kill("SIGKILL");
      gate.open();

      let last: Array<Record<string, unknown>> = [];
      await waitUntil(
        async () => (last = await all()).every((s) => s.status === "succeeded" || s.status === "failed"),
        FAILOVER_LIMIT_MS + 30_000,
        () => JSON.stringify(last.map((s) => s.status)),
      );
      const elapsed = Date.now() - killedAt;
      console.info(`fail-over: ten jobs done ${elapsed} ms after SIGKILL of one of two workers`);
      expect(last.map((s) => s.status)).toEqual(Array(JOBS).fill("succeeded"));
      expect(elapsed).toBeLessThan(FAILOVER_LIMIT_MS);

      for (const s of last) {
        const attempts = s.attempts as Attempt[];
        // Nothing lost and nothing run twice to the end: exactly one attempt succeeded, on the survivor.
        expect(attempts.filter((a) => a.outcome === "succeeded")).toHaveLength(1);
        expect(workerOf(attempts.at(-1))).toBe(survivor);
        if (interrupted.includes(s.file_scan_id as string)) {
          expect(attempts.map((a) => a.outcome)).toEqual(["interrupted", "succeeded"]);
          expect(workerOf(attempts[0])).toBe(victim);
        } else {
          expect(attempts.map((a) => a.outcome)).toEqual(["succeeded"]);
        }
      }
    },
    150_000,
  );
});
