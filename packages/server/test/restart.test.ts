import { afterAll, beforeAll, expect, test } from "vitest";
import { openDb } from "@modelvet/server";
import type { FakeHub } from "../../engine/test/support/hub-server.js";
import {
  ADMIN_KEY,
  CliCluster,
  httpClient,
  registerPayloadModel,
  startHub,
  waitUntil,
  type CliProcess,
} from "./helpers.js";

let hub: FakeHub;
let cluster: CliCluster;

beforeAll(async () => {
  hub = await startHub();
  cluster = new CliCluster({
    hubUrl: hub.hubUrl,
    // Long enough that a live scan on a loaded machine keeps its lease (heartbeats every lease/3), short enough that
    // the killed process's lease runs out within the test.
    env: { MODELVET_LEASE_MS: "9000", MODELVET_POLL_MS: "200" },
  });
});

afterAll(async () => {
  await cluster?.stop();
  await hub.stop();
});

/** `modelvet serve` in embedded mode (SQLite and the jobs table in the cluster's data folder). */
const serve = (): CliProcess => cluster.cli(["serve", "--port", "0"]);

test("embedded mode: a scan running when the process dies runs again after restart", async () => {
  // Every Hub answer waits, so the scan is still running when the process is killed.
  hub.delayMs = 700;
  const first = serve();
  const url = (await first.waitForLog("modelvet serving")).url as string;
  let api = httpClient(url, ADMIN_KEY);
  const { projectId, modelId } = await registerPayloadModel(api);
  const started = await api("POST", "/file-scans", { model_id: modelId, project_id: projectId });
  expect(started.status).toBe(202);
  const id = started.body.file_scan_id as string;
  await waitUntil(
    async () => (await api("GET", `/file-scans/${id}`)).body.status === "running",
    15_000,
    () => "running",
  );
  await first.kill("SIGKILL");

  hub.delayMs = 50;
  const second = serve();
  api = httpClient((await second.waitForLog("modelvet serving")).url as string, ADMIN_KEY);
  let last: Record<string, unknown> = {};
  await waitUntil(
    async () => {
      last = (await api("GET", `/file-scans/${id}`)).body;
      return last.status === "succeeded" || last.status === "failed";
    },
    30_000,
    () => JSON.stringify(last),
  );
  expect(last).toMatchObject({ status: "succeeded", severity_label: "Alert" });
  // No second admin key was generated: the key from the first start still works and nothing was printed.
  expect(second.stdout).not.toMatch(/shown only now/);

  // A graceful stop (SIGTERM) hands a running scan back at once: queued again, no lease to wait for.
  hub.delayMs = 700;
  const again = (await api("POST", "/file-scans", { model_id: modelId, project_id: projectId })).body
    .file_scan_id as string;
  await waitUntil(
    async () => (await api("GET", `/file-scans/${again}`)).body.status === "running",
    15_000,
    () => "running",
  );
  const stopping = Date.now();
  await second.kill("SIGTERM");
  expect(second.child.exitCode).toBe(0);
  expect(Date.now() - stopping).toBeLessThan(5000);

  const db = await openDb({ dataDir: cluster.dataDir });
  const rows = await db.kysely.selectFrom("file_scans").select(["id", "attempts", "status"]).execute();
  const jobs = await db.kysely.selectFrom("jobs").select(["id", "state", "lease_owner"]).execute();
  await db.close();
  expect(rows.find((r) => r.id === id)).toMatchObject({ attempts: 2, status: "succeeded" });
  expect(rows.find((r) => r.id === again)).toMatchObject({ status: "queued" });
  expect(jobs).toEqual([{ id: again, state: "queued", lease_owner: null }]);

  hub.delayMs = 0;
  const third = serve();
  api = httpClient((await third.waitForLog("modelvet serving")).url as string, ADMIN_KEY);
  await waitUntil(
    async () => (last = (await api("GET", `/file-scans/${again}`)).body).status === "succeeded",
    15_000,
    () => JSON.stringify(last),
  );
  await third.kill("SIGTERM");
});
