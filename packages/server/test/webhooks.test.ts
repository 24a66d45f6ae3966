import { createHmac } from "node:crypto";
import { Webhook, WebhookDelivery, WebhookEvent } from "@modelvet/schema";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { FakeHub } from "../../engine/test/support/hub-server.js";
import { guardedLookup, isPrivateAddress } from "../src/security/webhook-target.js";
import {
  ADMIN_KEY,
  createPgDatabase,
  httpClient,
  removeDir,
  startHub,
  startTestService,
  tempDir,
  waitUntil,
  type TestService,
} from "./helpers.js";
import { HangingReceiver, WebhookReceiver, type Received } from "./support/webhook-receiver.js";
import { expectShape } from "./support/wire-shape.js";

/**
 * Outbound webhooks through the API against the test Hub: a new Alert, a severity change from a rules change and
 * a failed scan of a followed model each arrive signed at a loopback receiver (allowed by the operator setting);
 * a receiver answering 500 gets a retry; the delivery log shows every attempt; private targets are refused when
 * the setting is off; another workspace's key sees nothing.
 */
const SECRET = "whsec-test-0123456789abcdef";
let hub: FakeHub;
let ts: TestService;
let dataDir: string;
let api: ReturnType<typeof httpClient>;
let base: string;
const receiver = new WebhookReceiver();

beforeAll(async () => {
  hub = await startHub();
  await receiver.start();
  dataDir = tempDir();
  ts = await startTestService({
    dataDir,
    hubUrl: hub.hubUrl,
    env: {
      MODELVET_WEBHOOKS_ALLOW_PRIVATE: "1",
      MODELVET_WEBHOOK_RETRY_BASE_MS: "300",
      MODELVET_PUBLIC_URL: "https://modelvet.example.com/",
    },
  });
  base = await ts.service.app!.listen({ port: 0, host: "127.0.0.1" });
  api = httpClient(base, ADMIN_KEY);
});

afterAll(async () => {
  await ts?.service.close();
  await hub?.stop();
  await receiver.stop();
  removeDir(dataDir);
});

/** The receiver's check, written out here independently of the server's code. */
function verify(r: Received, secret: string): { ok: boolean; t: number } {
  const header = String(r.headers["x-modelvet-signature"] ?? "");
  const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header);
  if (!match) return { ok: false, t: 0 };
  const expected = createHmac("sha256", secret).update(`${match[1]}.${r.body}`).digest("hex");
  return { ok: expected === match[2], t: Number(match[1]) };
}

async function workspaceWithHook(name: string, url = receiver.url) {
  const ws = await api("POST", "/workspaces", { name });
  const wsId = ws.body.workspace_id as string;
  const hook = await api("POST", `/workspaces/${wsId}/webhooks`, { url, secret: SECRET, description: "alerts" });
  expect(hook.status, hook.text).toBe(201);
  const project = await api("POST", "/projects", { name: "p", workspace_id: wsId });
  return { wsId, hookId: hook.body.webhook_id as string, hook, projectId: project.body.project_id as string };
}

async function register(projectId: string, repo: string, revision?: string): Promise<string> {
  const model = await api("POST", `/projects/${projectId}/models`, {
    name: repo,
    model_config: { hugging_face: { model_uri: repo, ...(revision ? { revision } : {}) } },
  });
  expect(model.status, model.text).toBe(201);
  return model.body.model_id as string;
}

async function scanToEnd(modelId: string, projectId: string): Promise<Record<string, unknown>> {
  const started = await api("POST", "/file-scans", { model_id: modelId, project_id: projectId });
  expect(started.status, started.text).toBe(202);
  let scan: Record<string, unknown> = {};
  await waitUntil(
    async () =>
      ["succeeded", "failed"].includes(
        (scan = (await api("GET", `/file-scans/${String(started.body.file_scan_id)}`)).body).status as string,
      ),
    30_000,
    () => JSON.stringify(scan),
  );
  return scan;
}

const deliveriesOf = async (wsId: string, hookId: string) =>
  (await api("GET", `/workspaces/${wsId}/webhooks/${hookId}/deliveries`)).body.deliveries as Array<
    Record<string, unknown>
  >;

/** Waits for the receiver to hold `count` requests for this model and returns them. */
async function requestsFor(modelId: string, count: number): Promise<Received[]> {
  const mine = () => receiver.received.filter((r) => r.body.includes(modelId));
  await waitUntil(
    () => mine().length >= count,
    30_000,
    () => `${count} webhook requests for ${modelId}`,
  );
  return mine();
}

describe("outbound webhooks", () => {
  test("the secret is write-only: never in an answer, stored only encrypted", async () => {
    const { wsId, hookId, hook } = await workspaceWithHook("secrets");
    expect(hook.text).not.toContain(SECRET);
    expect(hook.body).toMatchObject({ workspace_id: wsId, url: receiver.url, description: "alerts" });
    const list = await api("GET", `/workspaces/${wsId}/webhooks`);
    expect(list.body.webhooks).toHaveLength(1);
    expect(list.text).not.toContain(SECRET);
    const one = await api("GET", `/workspaces/${wsId}/webhooks/${hookId}`);
    expect(one.body.webhook_id).toBe(hookId);
    for (const shown of [hook.body, one.body, ...(list.body.webhooks as unknown[])])
      expectShape(Webhook, shown, "a webhook as the API shows it");
    expect(one.text).not.toContain(SECRET);
    const row = await ts.service.db.kysely
      .selectFrom("webhooks")
      .select("secret")
      .where("id", "=", hookId)
      .executeTakeFirstOrThrow();
    expect(row.secret.startsWith("v1:")).toBe(true);
    expect(row.secret).not.toContain(SECRET);
    const deleted = await fetch(`${base}/api/v1/workspaces/${wsId}/webhooks/${hookId}`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    });
    expect(deleted.status).toBe(204);
    expect((await api("GET", `/workspaces/${wsId}/webhooks/${hookId}`)).status).toBe(404);
    expect((await api("GET", `/workspaces/${wsId}/webhooks`)).body.webhooks).toHaveLength(0);
  });

  test("a new Alert arrives signed; a 500 is retried; the log shows both attempts", async () => {
    const { wsId, hookId, projectId } = await workspaceWithHook("alerts");
    const modelId = await register(projectId, "acme/payload");
    receiver.answerNext(500);
    const scan = await scanToEnd(modelId, projectId);
    expect(scan).toMatchObject({ status: "succeeded", severity: 3 });

    const [first, second] = await requestsFor(modelId, 2);
    // The same event both times, each signed afresh with its own timestamp.
    expect(second!.body).toBe(first!.body);
    for (const r of [first!, second!]) {
      const check = verify(r, SECRET);
      expect(check.ok).toBe(true);
      expect(Math.abs(check.t - Date.now() / 1000)).toBeLessThan(300);
      expect(verify(r, "another-secret-0123456789").ok).toBe(false);
      expect(r.headers["content-type"]).toBe("application/json");
    }
    // A body changed on the way no longer matches its signature.
    expect(verify({ ...second!, body: second!.body.replace('"alert"', '"Alert"') }, SECRET).ok).toBe(false);

    const event = JSON.parse(second!.body) as Record<string, unknown>;
    expectShape(WebhookEvent, event, "the alert event");
    expect(event).toMatchObject({
      event: "alert",
      workspace: { id: wsId, name: "alerts" },
      model: { id: modelId, name: "acme/payload", repo: "acme/payload" },
      revision: "main",
      file_scan_id: scan.file_scan_id,
      old_severity: null,
      new_severity: 3,
      link: `https://modelvet.example.com/models/${modelId}`,
    });
    expect(event.commit).toMatch(/^a{40}$/);
    const findings = event.top_findings as Array<Record<string, unknown>>;
    expect(findings.length).toBeGreaterThan(0);
    expect(findings.length).toBeLessThanOrEqual(5);
    expect(findings[0]).toMatchObject({ severity: 3 });
    expect(String(findings[0]!.path)).toMatch(/\/model\.pkl$/);

    let log: Array<Record<string, unknown>> = [];
    await waitUntil(
      async () => (log = await deliveriesOf(wsId, hookId))[0]?.state === "delivered",
      10_000,
      () => JSON.stringify(log),
    );
    expect(log).toHaveLength(1);
    expectShape(WebhookDelivery, log[0], "the delivery log entry");
    expect(log[0]).toMatchObject({
      event: "alert",
      state: "delivered",
      attempts: 2,
      last_status: 200,
      last_error: null,
    });
    const attempts = log[0]!.attempt_log as Array<Record<string, unknown>>;
    expect(attempts.map((a) => [a.attempt, a.status_code])).toEqual([
      [1, 500],
      [2, 200],
    ]);
    expect(attempts[0]!.error).toContain("500");
    // The retry waited for its backoff (300 ms after the first failure).
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(250);

    // Scanning the same commit again with the same verdict is no news: nothing more is sent.
    await scanToEnd(modelId, projectId);
    await new Promise((r) => setTimeout(r, 800));
    expect(receiver.received.filter((r) => r.body.includes(modelId))).toHaveLength(2);
  });

  test("a rules change that lowers the verdict sends severity_changed with both severities", async () => {
    const { wsId, hookId, projectId } = await workspaceWithHook("rules");
    const modelId = await register(projectId, "acme/payload");
    await scanToEnd(modelId, projectId);
    await requestsFor(modelId, 1);
    const put = await api("PUT", `/workspaces/${wsId}/rules`, {
      rules: [{ id: "ws.os-system", match: "os.system", severity: 2, reason: "reviewed" }],
    });
    expect(put.body).toMatchObject({ changed_models: [modelId] });
    const [, change] = await requestsFor(modelId, 2);
    expect(verify(change!, SECRET).ok).toBe(true);
    const event = JSON.parse(change!.body) as Record<string, unknown>;
    expectShape(WebhookEvent, event, "the severity_changed event");
    expect(event).toMatchObject({
      event: "severity_changed",
      old_severity: 3,
      new_severity: 2,
      reason: "rules change",
    });
    expect(event.file_scan_id).not.toBe(put.body.file_scan_id);
    await waitUntil(
      async () => (await deliveriesOf(wsId, hookId)).every((d) => d.state === "delivered"),
      10_000,
      () => "both deliveries delivered",
    );
    expect((await deliveriesOf(wsId, hookId)).map((d) => d.event)).toEqual(["severity_changed", "alert"]);
  });

  test("a failed scan of a followed model is sent; of a pinned model it is not", async () => {
    const { projectId } = await workspaceWithHook("failures");
    const followed = await register(projectId, "acme/missing");
    const pinned = await register(projectId, "acme/missing-too", "c".repeat(40));
    expect(await scanToEnd(pinned, projectId)).toMatchObject({ status: "failed" });
    const failed = await scanToEnd(followed, projectId);
    expect(failed.status).toBe("failed");
    const [request] = await requestsFor(followed, 1);
    expect(verify(request!, SECRET).ok).toBe(true);
    const event = JSON.parse(request!.body) as Record<string, unknown>;
    expectShape(WebhookEvent, event, "the scan_failed event");
    expect(event).toMatchObject({ event: "scan_failed", new_severity: null, model: { repo: "acme/missing" } });
    expect(String(event.error)).toBe(failed.error);
    await new Promise((r) => setTimeout(r, 800));
    expect(receiver.received.some((r) => r.body.includes(pinned))).toBe(false);
  });

  test("a receiver that keeps failing is given up after the attempt limit, each attempt logged", async () => {
    const { wsId, hookId, projectId } = await workspaceWithHook("down");
    const modelId = await register(projectId, "acme/private");
    // acme/private needs a token: the scan fails, and the model follows main.
    receiver.answerNext(503, 503, 503, 503, 503, 503);
    await scanToEnd(modelId, projectId);
    let log: Array<Record<string, unknown>> = [];
    await waitUntil(
      async () => (log = await deliveriesOf(wsId, hookId))[0]?.state === "failed",
      60_000,
      () => JSON.stringify(log),
    );
    expect(log[0]).toMatchObject({ attempts: 6, last_status: 503, next_attempt_at: null });
    expect((log[0]!.attempt_log as unknown[]).length).toBe(6);
    expect(receiver.received.filter((r) => r.body.includes(modelId))).toHaveLength(6);
  }, 90_000);

  test("a receiver that never answers does not hold up another receiver's delivery", async () => {
    const hanging = new HangingReceiver();
    await hanging.start();
    try {
      const stuck = await workspaceWithHook("hangs", hanging.url);
      await scanToEnd(await register(stuck.projectId, "acme/payload"), stuck.projectId);
      await waitUntil(
        () => hanging.arrived.length > 0,
        30_000,
        () => "the hanging receiver got its request",
      );
      // That delivery now waits for its answer (up to MODELVET_WEBHOOK_TIMEOUT_MS, 10 s) while this one is sent.
      const { projectId } = await workspaceWithHook("answers");
      const modelId = await register(projectId, "acme/payload");
      await scanToEnd(modelId, projectId);
      const [answered] = await requestsFor(modelId, 1);
      expect(hanging.closed).toEqual([]);
      expect(answered!.at - hanging.arrived[0]!).toBeLessThan(8_000);
    } finally {
      await hanging.stop();
    }
  });

  test("another workspace's key sees none of it: 404 everywhere", async () => {
    const { wsId, hookId } = await workspaceWithHook("owner");
    const other = await api("POST", "/workspaces", { name: "other" });
    const otherId = other.body.workspace_id as string;
    const key = await api("POST", `/workspaces/${otherId}/api-keys`, { name: "k" });
    const foreign = httpClient(base, key.body.api_key as string);
    expect((await foreign("GET", `/workspaces/${wsId}/webhooks`)).status).toBe(404);
    expect((await foreign("GET", `/workspaces/${wsId}/webhooks/${hookId}`)).status).toBe(404);
    expect((await foreign("GET", `/workspaces/${wsId}/webhooks/${hookId}/deliveries`)).status).toBe(404);
    expect((await foreign("DELETE", `/workspaces/${wsId}/webhooks/${hookId}`)).status).toBe(404);
    expect((await foreign("POST", `/workspaces/${wsId}/webhooks`, { url: receiver.url, secret: SECRET })).status).toBe(
      404,
    );
    // Through its own workspace's path, the other workspace's webhook does not exist either.
    expect((await foreign("GET", `/workspaces/${otherId}/webhooks/${hookId}`)).status).toBe(404);
    expect((await foreign("GET", `/workspaces/${otherId}/webhooks/${hookId}/deliveries`)).status).toBe(404);
    expect((await foreign("DELETE", `/workspaces/${otherId}/webhooks/${hookId}`)).status).toBe(404);
    expect((await api("GET", `/workspaces/${wsId}/webhooks/${hookId}`)).status).toBe(200);
    // Deleting the workspace takes its webhooks along.
    const gone = await fetch(`${base}/api/v1/workspaces/${wsId}`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    });
    expect(gone.status).toBe(204);
    const left = await ts.service.db.kysely.selectFrom("webhooks").select("id").where("id", "=", hookId).execute();
    expect(left).toHaveLength(0);
  });

  test("only http(s) URLs without credentials are taken", async () => {
    const ws = await api("POST", "/workspaces", { name: "urls" });
    const wsId = ws.body.workspace_id as string;
    for (const url of ["ftp://example.com/x", "file:///etc/passwd", "not a url", "http://user:pw@127.0.0.1/"]) {
      const answer = await api("POST", `/workspaces/${wsId}/webhooks`, { url, secret: SECRET });
      expect(answer.status, url).toBe(400);
    }
    expect((await api("POST", `/workspaces/${wsId}/webhooks`, { url: receiver.url, secret: "short" })).status).toBe(
      400,
    );
  });
});

describe("private targets without MODELVET_WEBHOOKS_ALLOW_PRIVATE", () => {
  let strict: TestService;
  let strictDir: string;
  let strictApi: ReturnType<typeof httpClient>;

  beforeAll(async () => {
    strictDir = tempDir();
    strict = await startTestService({ dataDir: strictDir, hubUrl: hub.hubUrl });
    strictApi = httpClient(await strict.service.app!.listen({ port: 0, host: "127.0.0.1" }), ADMIN_KEY);
  });

  afterAll(async () => {
    await strict?.service.close();
    removeDir(strictDir);
  });

  test("loopback, private, link-local and mapped addresses are refused, by literal or by name", async () => {
    const wsId = (await strictApi("POST", "/workspaces", { name: "strict" })).body.workspace_id as string;
    for (const url of [
      receiver.url,
      "http://localhost:9/hook",
      "http://[::1]/hook",
      "http://10.1.2.3/hook",
      "https://192.168.0.1/hook",
      "http://172.20.0.5/",
      "http://169.254.169.254/latest/meta-data",
      "http://[fe80::1]/",
      "http://[::ffff:127.0.0.1]/",
      "http://0.0.0.0/",
      "http://100.64.0.1/",
    ]) {
      const answer = await strictApi("POST", `/workspaces/${wsId}/webhooks`, { url, secret: SECRET });
      expect(answer.status, url).toBe(400);
      expect(answer.body.message, url).toContain("MODELVET_WEBHOOKS_ALLOW_PRIVATE");
    }
    expect((await strictApi("GET", `/workspaces/${wsId}/webhooks`)).body.webhooks).toHaveLength(0);
    // A public address literal (nothing is resolved) is taken.
    const ok = await strictApi("POST", `/workspaces/${wsId}/webhooks`, {
      url: "https://93.184.215.14/x",
      secret: SECRET,
    });
    expect(ok.status, ok.text).toBe(201);
  });

  test("the connection-time lookup refuses a name resolving to loopback (no rebinding past the check)", async () => {
    const lookup = guardedLookup(false);
    const error = await new Promise<Error | null>((resolve) => lookup("localhost", {}, (err) => resolve(err)));
    expect(error?.message).toContain("MODELVET_WEBHOOKS_ALLOW_PRIVATE");
    const allowed = await new Promise<string>((resolve) =>
      guardedLookup(true)("localhost", {}, (_e, address) => resolve(typeof address === "string" ? address : "")),
    );
    expect(["127.0.0.1", "::1"]).toContain(allowed);
    expect(isPrivateAddress("8.8.8.8")).toBe(false);
    expect(isPrivateAddress("2606:4700::1111")).toBe(false);
    expect(isPrivateAddress("::ffff:10.0.0.1")).toBe(true);
    expect(isPrivateAddress("fd00::1")).toBe(true);
  });
});

const pgDb = await createPgDatabase();

describe.skipIf(!pgDb)("outbound webhooks on PostgreSQL + pg-boss, two processes", () => {
  const services: TestService[] = [];
  let pgDir: string;

  beforeAll(async () => {
    pgDir = tempDir();
    const env = { MODELVET_WEBHOOKS_ALLOW_PRIVATE: "1", MODELVET_WEBHOOK_RETRY_BASE_MS: "300" };
    // An API process without scans and a worker: both deliver webhook events from the same table.
    for (const worker of [false, true])
      services.push(
        await startTestService({ dataDir: pgDir, databaseUrl: pgDb!.url, hubUrl: hub.hubUrl, worker, env }),
      );
  });

  afterAll(async () => {
    for (const s of services) await s.service.close();
    await pgDb?.drop();
    removeDir(pgDir);
  });

  test("an Alert scanned by the pg-boss worker is delivered once, retried once after a 500", async () => {
    const pgApi = httpClient(await services[0]!.service.app!.listen({ port: 0, host: "127.0.0.1" }), ADMIN_KEY);
    const wsId = (await pgApi("POST", "/workspaces", { name: "pg" })).body.workspace_id as string;
    const hook = await pgApi("POST", `/workspaces/${wsId}/webhooks`, { url: receiver.url, secret: SECRET });
    expect(hook.status, hook.text).toBe(201);
    const projectId = (await pgApi("POST", "/projects", { name: "p", workspace_id: wsId })).body.project_id as string;
    const model = await pgApi("POST", `/projects/${projectId}/models`, {
      name: "m",
      model_config: { hugging_face: { model_uri: "acme/payload" } },
    });
    const modelId = model.body.model_id as string;
    receiver.answerNext(500);
    expect((await pgApi("POST", "/file-scans", { model_id: modelId, project_id: projectId })).status).toBe(202);
    const [first, second] = await requestsFor(modelId, 2);
    expect([verify(first!, SECRET).ok, verify(second!, SECRET).ok]).toEqual([true, true]);
    expect(JSON.parse(second!.body)).toMatchObject({ event: "alert", new_severity: 3 });
    let log: Array<Record<string, unknown>> = [];
    await waitUntil(
      async () =>
        (log = (await pgApi("GET", `/workspaces/${wsId}/webhooks/${String(hook.body.webhook_id)}/deliveries`)).body
          .deliveries as Array<Record<string, unknown>>)[0]?.state === "delivered",
      10_000,
      () => JSON.stringify(log),
    );
    expect(log).toHaveLength(1);
    expect((log[0]!.attempt_log as Array<{ status_code: number }>).map((a) => a.status_code)).toEqual([500, 200]);
    await new Promise((r) => setTimeout(r, 800));
    expect(receiver.received.filter((r) => r.body.includes(modelId))).toHaveLength(2);
  });
});
