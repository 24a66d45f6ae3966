import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { FakeHub, smallFile } from "../../engine/test/support/hub-server.js";
import { findPython, NO_PYTHON, PYTHON_DIR } from "./support/python.js";
import { REPO_ROOT, startService, type RunningService } from "./support/service.js";

/** The Python SDK's continuous-scanning calls (python/examples/continuous_scanning.py) against the real service. */
const python = findPython();
const SHA = "c0".repeat(20);
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
  service = await startService({ HF_ENDPOINT: hub.hubUrl });
}, 60_000);

afterAll(async () => {
  await service?.stop();
  await hub.stop();
});

it("follows, sets follow settings and workspace rules; a rules change re-judges", async (ctx) => {
  if (!python) return ctx.skip(NO_PYTHON);
  const run = await new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
    const child = spawn(python, [join(PYTHON_DIR, "examples/continuous_scanning.py")], {
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
  const seen = JSON.parse(run.out.trim().split("\n").pop()!) as Record<string, unknown>;
  const settings = seen.settings as { hook_path: string };
  expect(settings.hook_path).toMatch(/^\/api\/v1\/hooks\/huggingface\/[0-9a-f-]{36}$/);
  expect(seen).toEqual({
    follow_default: true,
    after_unfollow: false,
    after_follow: true,
    settings: {
      poll_interval_seconds: 600,
      hook_secret_set: true,
      hook_path: settings.hook_path,
    },
    first: "Alert",
    change: { version: 1, rejudged: 1, changed: true },
    after_rules: "Warning",
    bad_rules_status: 400,
    cleared_version: 2,
    versions: [2, 1],
    after_clear: "Alert",
  });
}, 90_000);
