import { afterAll, beforeAll, expect, it } from "vitest";
import { privatePayloadRepo, startHubAndService, type HubAndService } from "./support/hub-service.js";
import { findPython, NO_PYTHON, runExample } from "./support/python.js";

/**
 * Must show (issue 6): the seed document's snippet (python/examples/seed_snippet.py), run with the Python SDK
 * against the service started as `npm start` does, scans a PRIVATE model on a Hub-compatible test server through
 * an integration holding its token, and gets Alert with the payload's global (os.system).
 */
const python = findPython();
const HF_TOKEN = "hf_seed_snippet_private_token_0123456789";
const REPO = "modelvet-test/private-model";
const SHA = "5eed".repeat(10);
let running: HubAndService | undefined;

beforeAll(async () => {
  if (python) running = await startHubAndService([privatePayloadRepo(REPO, SHA, HF_TOKEN)]);
}, 60_000);

afterAll(() => running?.stop());

interface PrintedResult {
  status: string;
  result?: unknown;
  severity: number;
  severity_label: string;
  file_security_reports: Array<{ path: string; unsafe_dependencies: Array<{ module: string; name: string }> }>;
}

it("scans a private Hub model through an integration and gets Alert with os.system", async (ctx) => {
  if (!python) return ctx.skip(NO_PYTHON);
  const { hub, service } = running!;
  const run = await runExample(python, "seed_snippet.py", service, {
    MODELVET_DOMAIN: service.url,
    HF_MODEL_URI: REPO,
    HUGGINGFACE_API_TOKEN: HF_TOKEN,
  });
  expect(run.code, `${run.stderr}\n--- service logs ---\n${service.logs()}`).toBe(0);

  // get_status(verbose=True) printed one line per change before the result's JSON.
  const json = run.stdout.indexOf("\n{");
  const progress = run.stdout.slice(0, json).split("\n");
  expect(progress.at(-1), run.stdout).toMatch(/^file scan [\w-]+: succeeded: Alert, 2 of 2 files, [\d.]+ k?B read$/);
  const result = JSON.parse(run.stdout.slice(json + 1)) as PrintedResult;
  expect(result.status).toBe("succeeded");
  expect([result.severity, result.severity_label]).toEqual([3, "Alert"]);
  const report = result.file_security_reports.find((r) => r.path.endsWith("pytorch_model.bin"));
  expect(result.result).toBeUndefined(); // printed once, flattened in
  expect(report?.unsafe_dependencies.map((d) => `${d.module}.${d.name}`)).toContain("os.system");

  // The private repo was read with the integration's token (the service had none of its own) …
  expect(hub.stats.requests.some((r) => r.origin === "hub" && r.auth && r.status === 200)).toBe(true);
  // … which never showed up in an answer or a log line.
  expect(run.stdout).not.toContain(HF_TOKEN);
  expect(service.logs()).not.toContain(HF_TOKEN);
});
