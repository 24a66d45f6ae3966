import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { FakeHub, smallFile } from "../../engine/test/support/hub-server.js";
import { findPython, NO_PYTHON, PYTHON_DIR } from "./support/python.js";
import { REPO_ROOT, startService, type RunningService } from "./support/service.js";

/**
 * The Python SDK's webhook calls (python/examples/webhooks.py) against the real service: the example's own loopback
 * receiver checks every signature with verify_webhook_signature.
 */
const python = findPython();
const SHA = "d1".repeat(20);
const hub = new FakeHub();
let service: RunningService | undefined;

beforeAll(async () => {
  if (!python) return;
  const payload = readFileSync(join(REPO_ROOT, "packages/engine/test/fixtures/adversarial/o6-inst.pkl"));
  hub.addRepo({
    id: "org/payload",
    refs: { main: SHA },
    commits: { [SHA]: [smallFile("model.pkl", payload, { lfs: true })] },
  });
  await hub.start();
  service = await startService({ HF_ENDPOINT: hub.hubUrl, MODELVET_WEBHOOKS_ALLOW_PRIVATE: "1" });
}, 60_000);

afterAll(async () => {
  await service?.stop();
  await hub.stop();
});

it("creates a webhook, receives a signed Alert, reads the delivery log and deletes it", async (ctx) => {
  if (!python) return ctx.skip(NO_PYTHON);
  const run = await new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
    const child = spawn(python, [join(PYTHON_DIR, "examples/webhooks.py")], {
      env: {
        ...process.env,
        PYTHONPATH: PYTHON_DIR,
        PYTHONDONTWRITEBYTECODE: "1",
        MODELVET_URL: service!.url,
        MODELVET_API_KEY: service!.apiKey,
        MODEL_URI: "org/payload",
      },
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => (err += c.toString()));
    child.on("exit", (code) => resolve({ code, out, err }));
  });
  expect(run.code, run.err).toBe(0);
  expect(JSON.parse(run.out.trim().split("\n").pop()!)).toEqual({
    secret_returned: false,
    listed: true,
    ftp_status: 400,
    delivery: { event: "alert", state: "delivered", attempts: 1, statuses: [200] },
    received: [{ verified: true, event: "alert", model: true, severity: 3 }],
    after_delete: 0,
  });
}, 90_000);
