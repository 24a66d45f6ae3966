import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { smallFile } from "../../engine/test/support/hub-server.js";
import { privatePayloadRepo, startHubAndService, type HubAndService } from "./support/hub-service.js";
import { findPython, PYTHON_DIR, runPython, type PythonRun } from "./support/python.js";
import { REPO_ROOT, type RunningService } from "./support/service.js";

/**
 * The Python SDK as a user gets it: `pip wheel ./python --no-deps --no-build-isolation` (offline, Debian's
 * setuptools), installed with pip into a fresh `venv --system-site-packages`, then the seed document's snippet run
 * byte for byte (only its <PLACEHOLDERS> replaced) through `import rime_sdk`, against a real `modelvet serve` and
 * the test Hub holding a private repo with a malicious pickle.
 */
const SEED_SNIPPET = [
  "from rime_sdk import Client",
  "",
  "client = Client(domain=<CLUSTER_URL>, api_key=<API_KEY>)",
  "job = client.start_file_scan(model_id=<MODEL_ID>, project_id=<PROJECT_ID>)",
  "job.get_status(verbose=True, wait_until_finish=True)",
].join("\n");
const SEED_RESULT = "client.get_file_scan_result(file_scan_id=job.job_id)";

const HF_TOKEN = "hf_wheel_test_private_token_0123456789";
const REPO = "modelvet-test/wheel-private-model";
const SHA = "1eaf".repeat(10);
const python = findPython();
// Found, not imported: importing pip before setuptools trips Debian's distutils shim.
const PROBE =
  "import importlib.util as u, sys; sys.exit(any(u.find_spec(m) is None for m in ('venv', 'ensurepip', 'pip', 'setuptools', 'wheel')))";
let running: HubAndService | undefined;
let work = "";
let venvPython = "";
let skipReason = "";
let service: RunningService | undefined;

/** Runs a command to completion (synchronously: nothing of this process needs to answer meanwhile). */
function run(cmd: string, args: string[], cwd = work): { code: number | null; out: string } {
  const r = spawnSync(cmd, args, {
    cwd,
    encoding: "utf8",
    timeout: 180_000,
    env: { ...process.env, PIP_NO_INDEX: "1" },
  });
  return { code: r.status, out: `${r.stdout}\n${r.stderr}` };
}

/** Builds the wheel from a copy of python/ (the build writes build/ and *.egg-info next to its sources). */
function buildWheel(): string {
  const source = join(work, "python");
  cpSync(PYTHON_DIR, source, { recursive: true, filter: (p) => !/(__pycache__|\.egg-info|[/\\]build)$/.test(p) });
  const args = ["-m", "pip", "wheel", source, "--no-deps", "--no-build-isolation", "-w", join(work, "dist")];
  const built = run(python!, args);
  if (built.code !== 0) throw new Error(`pip wheel failed:\n${built.out}`);
  const wheel = readdirSync(join(work, "dist")).find((f) => f.endsWith(".whl"));
  if (!wheel) throw new Error(`pip wheel wrote no .whl:\n${built.out}`);
  return join(work, "dist", wheel);
}

beforeAll(async () => {
  if (!python) return void (skipReason = "skipped: no python3 >= 3.9 on this machine");
  const probe = run(python, ["-c", PROBE], tmpdir());
  if (probe.code !== 0) {
    skipReason = "skipped: python3 lacks venv, pip, setuptools or wheel (apt-get install python3-venv python3-pip)";
    return;
  }
  work = mkdtempSync(join(tmpdir(), "modelvet-wheel-"));
  const wheel = buildWheel();
  const venv = run(python, ["-m", "venv", "--system-site-packages", join(work, "venv")]);
  if (venv.code !== 0) return void (skipReason = `skipped: python3 -m venv failed (python3-venv missing?)`);
  venvPython = join(work, "venv/bin/python");
  const installed = run(venvPython, ["-m", "pip", "install", "--no-index", "--no-deps", wheel]);
  if (installed.code !== 0) throw new Error(`pip install of the wheel failed:\n${installed.out}`);

  const helper = readFileSync(join(REPO_ROOT, "examples/payload-getattr-chain.pkl"));
  const repo = privatePayloadRepo(REPO, SHA, HF_TOKEN, [
    smallFile("README.md", Buffer.from("# a model\n")),
    smallFile("extra/helper.pkl", helper, { lfs: true }),
  ]);
  // 30000 MB, as the seed suggests for large generative models, is above the default cap of 4096: an operator raises it.
  running = await startHubAndService([repo], { MODELVET_MAX_SCAN_MEMORY_MB: "32768" });
  service = running.service;
}, 240_000);

afterAll(async () => {
  await running?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** One call of the HTTP API with the service's admin key. */
async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${service!.url}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${service!.apiKey}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await res.json()) as T;
  if (!res.ok) throw new Error(`${method} ${path} → ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/** A workspace, an integration holding the Hub token, a project and the private model, made through the API. */
async function registerPrivateModel(): Promise<{
  workspaceId: string;
  projectId: string;
  modelId: string;
  integrationId: string;
}> {
  const { workspace_id: workspaceId } = await api<{ workspace_id: string }>("POST", "/workspaces", { name: "wheel" });
  const { integration_id: integrationId } = await api<{ integration_id: string }>(
    "POST",
    `/workspaces/${workspaceId}/integrations`,
    {
      name: "Hugging Face",
      integration_type: "CUSTOM",
      integration_schema: [{ name: "HUGGINGFACE_API_TOKEN", sensitivity: "SECRET", value: HF_TOKEN }],
    },
  );
  const { project_id: projectId } = await api<{ project_id: string }>("POST", "/projects", {
    name: "Model Registry",
    workspace_id: workspaceId,
  });
  const { model_id: modelId } = await api<{ model_id: string }>("POST", `/projects/${projectId}/models`, {
    name: "private model",
    model_config: { hugging_face: { model_uri: REPO, revision: "main" } },
    integration_id: integrationId,
  });
  return { workspaceId, projectId, modelId, integrationId };
}

/** Runs the installed interpreter outside the checkout; `stdin` is typed at its prompt when args is ["-i", "-q"]. */
function runVenv(args: string[], stdin = ""): Promise<PythonRun> {
  return runPython(venvPython, args, { cwd: tmpdir(), env: { PYTHONPATH: "" }, stdin });
}

const py = (s: string): string => JSON.stringify(s); // a JSON string is a valid Python str literal

interface Report {
  path: string;
  severity: number;
  unsafe_dependencies: Array<{ module: string; name: string }>;
}

it("installs from the wheel: modelvet_sdk and rime_sdk come from the venv, not the checkout", (ctx) => {
  if (skipReason) return ctx.skip(skipReason);
  const where = run(
    venvPython,
    ["-c", "import modelvet_sdk, rime_sdk; print(rime_sdk.__file__); print(rime_sdk.Client is modelvet_sdk.Client)"],
    tmpdir(),
  );
  expect(where.code, where.out).toBe(0);
  const [file, same] = where.out.trim().split("\n");
  expect(file!.startsWith(join(work, "venv"))).toBe(true);
  expect(same).toBe("True");
});

it("runs the seed's snippet verbatim and prints unsafe_dependencies for the malicious repo", async (ctx) => {
  if (skipReason) return ctx.skip(skipReason);
  const { projectId, modelId } = await registerPrivateModel();
  // The domain as the seed's <CLUSTER_URL> suggests: a bare host:port, no scheme.
  const hostPort = new URL(service!.url).host;
  const snippet = SEED_SNIPPET.replace("<CLUSTER_URL>", py(hostPort))
    .replace("<API_KEY>", py(service!.apiKey))
    .replace("<MODEL_ID>", py(modelId))
    .replace("<PROJECT_ID>", py(projectId));
  expect(snippet).not.toMatch(/<[A-Z_]+>/);
  // After the verbatim lines, `_` (the REPL's last value) is dumped as JSON so the test can read it structurally.
  const marker = "RESULT_JSON ";
  const run = await runVenv(
    ["-i", "-q"],
    `${snippet}\n\n${SEED_RESULT}\nimport json; print(${py(marker)} + json.dumps(_))\n`,
  );
  expect(run.stderr, run.stdout).not.toContain("Traceback");
  expect(run.code).toBe(0);

  // get_status(verbose=True) printed its lines, ending with the verdict; then the REPL showed the result.
  const lines = run.stdout.split("\n");
  const statusLines = lines.filter((l) => l.startsWith("file scan "));
  expect(statusLines.at(-1)).toMatch(/: succeeded: Alert, 4 of 4 files, [\d.]+ k?B read$/);
  expect(new Set(statusLines).size).toBe(statusLines.length); // one line per change, never the same twice
  const shown = lines.find((l) => l.startsWith("FileScanResult("));
  expect(shown).toContain("'unsafe_dependencies'");
  expect(shown).toContain("'system'");

  const result = JSON.parse(lines.find((l) => l.startsWith(marker))!.slice(marker.length)) as {
    severity_label: string;
    file_security_reports: Report[];
  };
  expect(result.severity_label).toBe("Alert");
  const deps = (path: string): string[] =>
    result.file_security_reports
      .find((r) => r.path.endsWith(path))!
      .unsafe_dependencies.map((d) => `${d.module}.${d.name}`);
  expect(deps("pytorch_model.bin")).toContain("os.system");
  expect(deps("extra/helper.pkl")).toEqual(expect.arrayContaining(["builtins.getattr", "os.system"]));
  expect(result.file_security_reports.find((r) => r.path === "config.json")?.severity ?? 1).toBe(1);
  expect(run.stdout).not.toContain(HF_TOKEN);
}, 120_000);

it("accepts register_model(integration_id=…) and ram_request_megabytes=30000 from the installed rime_sdk", async (ctx) => {
  if (skipReason) return ctx.skip(skipReason);
  const { workspaceId, projectId } = await registerPrivateModel();
  const script = [
    "import json, sys",
    "from rime_sdk import Client",
    `client = Client(domain=${py(service!.url)}, api_key=${py(service!.apiKey)})`,
    `integration_id = client.list_integrations(${py(workspaceId)})[0].integration_id`,
    `project = client.get_project(${py(projectId)})`,
    "model_id = project.register_model(",
    `    name="big generative model", model_config={"hugging_face": {"model_uri": ${py(REPO)}, "revision": "main"}},`,
    "    integration_id=integration_id)",
    "job = client.start_file_scan(model_id=model_id, project_id=project.project_id, ram_request_megabytes=30000)",
    "status = job.get_status(wait_until_finish=True, poll_rate_sec=0.2, timeout_sec=60)",
    "result = client.get_file_scan_result(file_scan_id=job.job_id)",
    "print(json.dumps({'ram': status.ram_request_megabytes, 'label': result.severity_label,",
    "                  'integration': client.get_model(model_id).integration_id == integration_id}))",
  ].join("\n");
  const ran = await runVenv(["-c", script]);
  expect(ran.code, ran.stderr).toBe(0);
  expect(JSON.parse(ran.stdout)).toEqual({ ram: 30000, label: "Alert", integration: true });
}, 120_000);
