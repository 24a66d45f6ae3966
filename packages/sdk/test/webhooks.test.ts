import { createHmac } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, expect, it } from "vitest";
import { Client, ModelvetError, verifyWebhookSignature } from "../src/index.js";
import { payloadRepo, startHubAndService, type HubAndService } from "./support/hub-service.js";

// Webhook calls of the TypeScript SDK against the real service (loopback receivers allowed by the operator
// setting): create, list, read, deliveries, delete; and the signature check a receiver runs.
const SHA = "5eb".repeat(13) + "5";
const SECRET = "sdk-webhook-secret-0123456789";
let running: HubAndService | undefined;
let admin: Client;
let receiver: Server;
let receiverUrl: string;
const received: Array<{ body: string; signature: string }> = [];
let failNext = 1;

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      received.push({ body, signature: String(req.headers["x-modelvet-signature"]) });
      res.writeHead(failNext-- > 0 ? 500 : 204).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/events`;
  running = await startHubAndService([payloadRepo("org/payload", SHA)], {
    MODELVET_WEBHOOKS_ALLOW_PRIVATE: "1",
    MODELVET_WEBHOOK_RETRY_BASE_MS: "200",
  });
  admin = new Client({ domain: running.service.url, apiKey: running.service.apiKey });
}, 60_000);

afterAll(async () => {
  await running?.stop();
  await new Promise<void>((r) => receiver.close(() => r()));
});

it("creates, lists and deletes webhooks; an Alert is delivered after a retry and the log shows both attempts", async () => {
  const ws = await admin.createWorkspace("hooks");
  const hook = await admin.createWebhook(ws.workspace_id, { url: receiverUrl, secret: SECRET, description: "ops" });
  expect(hook).toMatchObject({ workspace_id: ws.workspace_id, url: receiverUrl, description: "ops" });
  expect(JSON.stringify(hook)).not.toContain(SECRET);
  expect((await admin.listWebhooks(ws.workspace_id)).map((h) => h.webhook_id)).toEqual([hook.webhook_id]);
  expect((await admin.getWebhook(ws.workspace_id, hook.webhook_id)).url).toBe(receiverUrl);

  const project = await admin.createProject("p", "", ws.workspace_id);
  const modelId = await project.registerModel("org/payload", { hugging_face: { model_uri: "org/payload" } });
  const job = await admin.startFileScan(modelId, project.project_id);
  await job.getStatus({ waitUntilFinish: true, pollRateSec: 0.2, timeoutSec: 60 });

  let deliveries = await admin.listWebhookDeliveries(ws.workspace_id, hook.webhook_id);
  for (let i = 0; i < 100 && deliveries[0]?.state !== "delivered"; i++) {
    await new Promise((r) => setTimeout(r, 100));
    deliveries = await admin.listWebhookDeliveries(ws.workspace_id, hook.webhook_id);
  }
  expect(deliveries).toHaveLength(1);
  expect(deliveries[0]).toMatchObject({ event: "alert", state: "delivered", attempts: 2, last_status: 204 });
  expect(deliveries[0]!.attempt_log.map((a) => a.status_code)).toEqual([500, 204]);

  expect(received).toHaveLength(2);
  for (const r of received) expect(await verifyWebhookSignature(SECRET, r.body, r.signature)).toBe(true);
  expect(JSON.parse(received[1]!.body)).toMatchObject({ event: "alert", model: { id: modelId }, new_severity: 3 });
  expect(await verifyWebhookSignature("wrong-secret-0123456789", received[1]!.body, received[1]!.signature)).toBe(
    false,
  );

  await admin.deleteWebhook(ws.workspace_id, hook.webhook_id);
  expect(await admin.listWebhooks(ws.workspace_id)).toEqual([]);
  const gone = await admin.getWebhook(ws.workspace_id, hook.webhook_id).catch((e: ModelvetError) => e);
  expect((gone as ModelvetError).status).toBe(404);
  const bad = await admin
    .createWebhook(ws.workspace_id, { url: "ftp://example.com/", secret: SECRET })
    .catch((e: ModelvetError) => e);
  expect((bad as ModelvetError).status).toBe(400);
}, 90_000);

it("verifyWebhookSignature refuses a changed body, an old timestamp and a malformed header", async () => {
  const body = '{"event":"alert"}';
  const t = Math.floor(Date.now() / 1000);
  const sign = (at: number, text = body) =>
    `t=${at},v1=${createHmac("sha256", SECRET).update(`${at}.${text}`).digest("hex")}`;
  expect(await verifyWebhookSignature(SECRET, body, sign(t))).toBe(true);
  expect(await verifyWebhookSignature(SECRET, body + " ", sign(t))).toBe(false);
  expect(await verifyWebhookSignature(SECRET, body, sign(t - 301))).toBe(false);
  expect(await verifyWebhookSignature(SECRET, body, sign(t - 301), { toleranceSeconds: 600 })).toBe(true);
  expect(await verifyWebhookSignature(SECRET, body, "v1=abc")).toBe(false);
  expect(await verifyWebhookSignature(SECRET, body, `t=${t},v1=zz`)).toBe(false);
});
