import { afterAll, beforeAll, expect, it } from "vitest";
import { payloadRepo, startHubAndService, type HubAndService } from "./support/hub-service.js";
import { findPython, NO_PYTHON, runExample } from "./support/python.js";

/**
 * The Python SDK's webhook calls (python/examples/webhooks.py) against the real service: the example's own loopback
 * receiver checks every signature with verify_webhook_signature.
 */
const python = findPython();
const SHA = "d1".repeat(20);
let running: HubAndService | undefined;

beforeAll(async () => {
  if (python)
    running = await startHubAndService([payloadRepo("org/payload", SHA)], { MODELVET_WEBHOOKS_ALLOW_PRIVATE: "1" });
}, 60_000);

afterAll(() => running?.stop());

it("creates a webhook, receives a signed Alert, reads the delivery log and deletes it", async (ctx) => {
  if (!python) return ctx.skip(NO_PYTHON);
  const run = await runExample(python, "webhooks.py", running!.service, { MODEL_URI: "org/payload" });
  expect(run.code, run.stderr).toBe(0);
  expect(JSON.parse(run.stdout.trim().split("\n").pop()!)).toEqual({
    secret_returned: false,
    listed: true,
    ftp_status: 400,
    delivery: { event: "alert", state: "delivered", attempts: 1, statuses: [200] },
    received: [{ verified: true, event: "alert", model: true, severity: 3 }],
    after_delete: 0,
  });
}, 90_000);
