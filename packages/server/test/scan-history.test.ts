import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { scanTargetsWithInventories } from "@modelvet/engine";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { FakeHub } from "../../engine/test/support/hub-server.js";
import { markQueued, markRunning, recordCrash, saveFailure, saveResult } from "../src/store/scan-jobs.js";
import {
  ADMIN_KEY,
  createPgDatabase,
  registerPayloadModel,
  removeDir,
  startHub,
  startTestService,
  tempDir,
  type TestService,
} from "./helpers.js";

/**
 * Every way an attempt ends writes the scan's status and the attempt's outcome together. A reader that lands
 * between two separate writes would see a succeeded scan whose only attempt still looks open, which the API reads
 * as "interrupted" (its worker died). The service here has no worker: the test plays the worker's part with the
 * store's own functions and reads the scan back through the HTTP API after each single call.
 */
const pgDb = await createPgDatabase();
if (!pgDb) console.warn("PostgreSQL not reachable: the postgres half of the scan history suite is skipped");
afterAll(async () => pgDb?.drop());
const stores = [{ name: "sqlite" }, ...(pgDb ? [{ name: "postgres", databaseUrl: pgDb.url }] : [])];

type Body = Record<string, unknown>;
interface Attempt {
  attempt: number;
  outcome: string;
  reason: string | null;
  ended_at: string | null;
}

describe.each(stores)("attempt history on $name", (store) => {
  let hub: FakeHub;
  let dataDir: string;
  let ts: TestService;
  let model: { projectId: string; modelId: string };

  const api = async (method: string, path: string, payload?: unknown) => {
    const response = await ts.service.app!.inject({
      method: method as "GET",
      url: `/api/v1${path}`,
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
      ...(payload !== undefined ? { payload: payload as Body } : {}),
    });
    return { status: response.statusCode, body: response.json<Body>(), text: response.body };
  };
  const db = () => ts.service.db.kysely;

  /** A queued scan of the registered model (nothing runs it: the service has no worker). */
  async function queuedScan(): Promise<string> {
    const started = await api("POST", "/file-scans", { model_id: model.modelId, project_id: model.projectId });
    expect(started.status).toBe(202);
    return started.body.file_scan_id as string;
  }
  async function read(id: string): Promise<{ status: string; attempts: Attempt[] }> {
    const answer = await api("GET", `/file-scans/${id}`);
    expect(answer.status).toBe(200);
    return { status: answer.body.status as string, attempts: answer.body.attempts as Attempt[] };
  }

  beforeAll(async () => {
    hub = await startHub();
    dataDir = tempDir();
    ts = await startTestService({
      dataDir,
      hubUrl: hub.hubUrl,
      worker: false,
      ...(store.databaseUrl ? { databaseUrl: store.databaseUrl } : {}),
    });
    model = await registerPayloadModel(api);
  });
  afterAll(async () => {
    await ts?.service.close();
    await hub?.stop();
    removeDir(dataDir);
  });

  test("a saved result closes its attempt as succeeded in the same write", async () => {
    const id = await queuedScan();
    const attempt = await markRunning(db(), id, "test-worker");
    expect(await read(id)).toMatchObject({ status: "running", attempts: [{ attempt: 1, outcome: "running" }] });
    const file = join(dataDir, "tiny.pkl");
    writeFileSync(file, Buffer.from([0x80, 0x04, 0x4b, 0x01, 0x2e]));
    const { report, inventories } = await scanTargetsWithInventories([file], { cache: false });
    await saveResult(db(), id, attempt, report, inventories);
    const after = await read(id);
    expect(after.status).toBe("succeeded");
    expect(after.attempts).toEqual([expect.objectContaining({ attempt: 1, outcome: "succeeded", reason: null })]);
    expect(after.attempts[0]!.ended_at).not.toBeNull();
  });

  test("a failure closes its attempt as failed; a failure before any start leaves no attempt", async () => {
    const id = await queuedScan();
    const attempt = await markRunning(db(), id, "test-worker");
    await saveFailure(db(), id, "the repository is gone", attempt);
    expect(await read(id)).toMatchObject({
      status: "failed",
      attempts: [{ attempt: 1, outcome: "failed", reason: null }],
    });

    const never = await queuedScan();
    await saveFailure(db(), never, "refused before it started");
    expect(await read(never)).toEqual({ status: "failed", attempts: [] });
  });

  test("a job handed back is queued and its attempt reads as handed back, not as a lost worker", async () => {
    const id = await queuedScan();
    const attempt = await markRunning(db(), id, "test-worker");
    await markQueued(db(), id, attempt);
    expect(await read(id)).toMatchObject({
      status: "queued",
      attempts: [{ attempt: 1, outcome: "interrupted", reason: "handed back: the worker was stopping" }],
    });
  });

  test("a crash is counted and its attempt closed with the cause; the next start is attempt 2", async () => {
    const id = await queuedScan();
    const first = await markRunning(db(), id, "test-worker");
    await recordCrash(db(), id, first, "scan exceeded its memory limit (512 MB)", 1024);
    expect((await read(id)).attempts).toEqual([
      expect.objectContaining({ attempt: 1, outcome: "crashed", reason: "scan exceeded its memory limit (512 MB)" }),
    ]);
    const second = await markRunning(db(), id, "test-worker");
    expect(second).toBe(2);
    expect((await read(id)).attempts.map((a) => [a.attempt, a.outcome])).toEqual([
      [1, "crashed"],
      [2, "running"],
    ]);
  });
});
