import { afterAll, beforeAll, expect, it } from "vitest";
import { payloadRepo, startHubAndService, type HubAndService } from "./support/hub-service.js";
import { findPython, NO_PYTHON, runExample } from "./support/python.js";

/** The Python SDK's continuous-scanning calls (python/examples/continuous_scanning.py) against the real service. */
const python = findPython();
const SHA = "c0".repeat(20);
let running: HubAndService | undefined;

beforeAll(async () => {
  if (python) running = await startHubAndService([payloadRepo("org/payload", SHA)]);
}, 60_000);

afterAll(() => running?.stop());

it("follows, sets follow settings and workspace rules; a rules change re-judges", async (ctx) => {
  if (!python) return ctx.skip(NO_PYTHON);
  const run = await runExample(python, "continuous_scanning.py", running!.service, { MODEL_URI: "org/payload" });
  expect(run.code, run.stderr).toBe(0);
  const seen = JSON.parse(run.stdout.trim().split("\n").pop()!) as Record<string, unknown>;
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
