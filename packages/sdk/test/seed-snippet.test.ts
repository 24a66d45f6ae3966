import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { FakeHub, smallFile } from "../../engine/test/support/hub-server.js";
import { findPython, NO_PYTHON, PYTHON_DIR } from "./support/python.js";
import { REPO_ROOT, startService, type RunningService } from "./support/service.js";

/**
 * Must show (issue 6): the seed document's snippet (python/examples/seed_snippet.py), run with the Python SDK
 * against the service started as `npm start` does, scans a PRIVATE model on a Hub-compatible test server through
 * an integration holding its token, and gets Alert with the payload's global (os.system).
 */
const python = findPython();
const HF_TOKEN = "hf_seed_snippet_private_token_0123456789";
const REPO = "modelvet-test/private-model";
const SHA = "5eed".repeat(10);
const hub = new FakeHub();
let service: RunningService | undefined;

beforeAll(async () => {
  if (!python) return;
  const payload = readFileSync(join(REPO_ROOT, "packages/engine/test/fixtures/adversarial/o6-inst.pkl"));
  hub.addRepo({
    id: REPO,
    private: true,
    token: HF_TOKEN,
    refs: { main: SHA },
    commits: {
      [SHA]: [
        smallFile("config.json", Buffer.from('{"model_type": "bert"}')),
        smallFile("pytorch_model.bin", payload, { lfs: true }),
      ],
    },
  });
  await hub.start();
  service = await startService({ HF_ENDPOINT: hub.hubUrl });
}, 60_000);

afterAll(async () => {
  await service?.stop();
  await hub.stop();
});

/** Runs a Python script without blocking this process: the fake Hub answering the service lives here. */
function runPython(
  script: string,
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(python!, [script], {
      cwd: REPO_ROOT,
      env: { ...process.env, PYTHONPATH: PYTHON_DIR, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

interface PrintedResult {
  status: string;
  result?: unknown;
  severity: number;
  severity_label: string;
  file_security_reports: Array<{ path: string; unsafe_dependencies: Array<{ module: string; name: string }> }>;
}

it("scans a private Hub model through an integration and gets Alert with os.system", async (ctx) => {
  if (!python) return ctx.skip(NO_PYTHON);
  const run = await runPython(join(PYTHON_DIR, "examples/seed_snippet.py"), {
    MODELVET_DOMAIN: service!.url,
    MODELVET_API_KEY: service!.apiKey,
    HF_MODEL_URI: REPO,
    HUGGINGFACE_API_TOKEN: HF_TOKEN,
  });
  expect(run.code, `${run.stderr}\n--- service logs ---\n${service!.logs()}`).toBe(0);

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
  expect(service!.logs()).not.toContain(HF_TOKEN);
});
