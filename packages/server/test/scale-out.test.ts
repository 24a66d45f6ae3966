import { afterAll, beforeAll, describe, expect, test } from "vitest";
import pg from "pg";
import type { FakeHub } from "../../engine/test/support/hub-server.js";
import { CliCluster, createPgDatabase, registerPayloadModel, startHub, waitUntil, type CliProcess } from "./helpers.js";

const pgDb = await createPgDatabase();
const SCANS = 20;

describe.skipIf(!pgDb)("scale-out on PostgreSQL + pg-boss", () => {
  let hub: FakeHub;
  let cluster: CliCluster;

  beforeAll(async () => {
    hub = await startHub();
    cluster = new CliCluster({
      hubUrl: hub.hubUrl,
      databaseUrl: pgDb!.url,
      env: {
        MODELVET_POLL_MS: "500",
        // A killed worker's job expires after 2 × 8 s and is retried by the other worker (8 s: slack for loaded CI).
        MODELVET_JOB_TIMEOUT_SECONDS: "8",
        MODELVET_MAINTENANCE_SECONDS: "1",
      },
    });
  });

  afterAll(async () => {
    await cluster?.stop();
    await hub?.stop();
    await pgDb?.drop();
  });

  test("one server and two workers share 20 scans; a worker killed mid-scan loses no job", async () => {
    hub.delayMs = 150;
    const { server, api } = await cluster.startServer();
    const workers = await cluster.startWorkers(2, 2);

    const { projectId, modelId } = await registerPayloadModel(api);
    const ids: string[] = [];
    for (let i = 0; i < SCANS; i++) {
      const started = await api("POST", "/file-scans", { model_id: modelId, project_id: projectId });
      expect(started.status).toBe(202);
      ids.push(started.body.file_scan_id as string);
    }

    // Kill the first worker once it has finished a scan and is in the middle of another.
    const [victim, survivor] = workers as [CliProcess, CliProcess];
    const inFlight = (w: CliProcess): string[] => {
      const done = new Set(w.logged("scan succeeded").map((l) => l.file_scan_id));
      return w.logged("scan started").flatMap((l) => (done.has(l.file_scan_id) ? [] : [l.file_scan_id as string]));
    };
    await waitUntil(
      () => victim.logged("scan succeeded").length >= 1 && inFlight(victim).length >= 1,
      30_000,
      () => "the first worker to be mid-scan",
    );
    const interrupted = inFlight(victim);
    await victim.kill("SIGKILL");

    const statuses = async (): Promise<string[]> =>
      Promise.all(ids.map(async (id) => (await api("GET", `/file-scans/${id}`)).body.status as string));
    let last: string[] = [];
    await waitUntil(
      async () => (last = await statuses()).every((s) => s === "succeeded" || s === "failed"),
      60_000,
      () => JSON.stringify(last),
    );
    expect(last).toEqual(Array(SCANS).fill("succeeded"));

    // Which worker ran each job, from their logs: both ran some, the killed one's scans were finished by the other.
    const ranBy = (w: CliProcess) => new Set(w.logged("scan succeeded").map((l) => l.file_scan_id as string));
    const [byVictim, bySurvivor] = [ranBy(victim), ranBy(survivor)];
    console.info(
      `scale-out: killed worker finished ${byVictim.size}, other worker ${bySurvivor.size}, interrupted ${interrupted.length}`,
    );
    expect(byVictim.size).toBeGreaterThanOrEqual(1);
    expect(bySurvivor.size).toBeGreaterThanOrEqual(1);
    // A worker logs "scan succeeded" after storing the result, so one killed between the two leaves a finished job
    // without its line: every job is either logged by a worker or was started by the killed one.
    const victimStarted = new Set(victim.logged("scan started").map((l) => l.file_scan_id as string));
    const unlogged = ids.filter((id) => !byVictim.has(id) && !bySurvivor.has(id));
    expect(unlogged.every((id) => victimStarted.has(id))).toBe(true);
    expect(unlogged.length).toBeLessThanOrEqual(2); // at most the jobs it had in flight (--concurrency 2)
    for (const id of interrupted) expect(bySurvivor.has(id) || unlogged.includes(id)).toBe(true);
    expect(server.logged("scan started")).toHaveLength(0);

    const client = new pg.Client({ connectionString: pgDb!.url });
    await client.connect();
    const rows = await client.query<{ id: string; attempts: number; worker: string }>(
      "SELECT id, attempts, worker FROM file_scans",
    );
    await client.end();
    // An interrupted job the other worker finished was started twice; one the killed worker had already stored (it
    // died between storing and logging) was not, and needs no second attempt.
    const retried = rows.rows.filter((r) => interrupted.includes(r.id) && bySurvivor.has(r.id));
    for (const row of retried) expect(row.attempts).toBeGreaterThanOrEqual(2);
  });
});
