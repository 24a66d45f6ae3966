// Service status-call latency: `modelvet serve` (embedded SQLite, 2 scan threads) in its own process, 20
// concurrent clients polling GET /file-scans/{id} on loopback, first idle and then while scans run back to back.
// Prints one JSON line per measurement. Needs the build (`npm run build`): it runs packages/cli/bin/modelvet.js.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FakeHub, smallFile } from "../packages/engine/test/support/hub-server.js";

const CLIENTS = 20;
const REQUESTS_PER_CLIENT = 150;
const SCANS = 40;
const KEY = "mv_bench-admin-key-0123456789abcdefghijkl";
const root = new URL("../", import.meta.url).pathname;

/** A protocol-2 pickle of one list with `n` small ints: millions of opcodes, so a scan keeps a thread busy. */
function densePickle(n: number): Buffer {
  const body = Buffer.alloc(n * 2, 0);
  for (let i = 0; i < n; i++) {
    body[i * 2] = 0x4b; // BININT1
    body[i * 2 + 1] = i & 0xff;
  }
  return Buffer.concat([Buffer.from([0x80, 0x02, 0x5d, 0x28]), body, Buffer.from([0x65, 0x2e])]);
}

const hub = new FakeHub();
await hub.start();
const sha = "c".repeat(40);
hub.addRepo({
  id: "bench/model",
  refs: { main: sha },
  commits: {
    [sha]: [
      smallFile("payload.pkl", readFileSync(join(root, "packages/engine/test/fixtures/adversarial/o6-inst.pkl"))),
      smallFile("dense.pkl", densePickle(2_000_000), { lfs: true }),
    ],
  },
});

const dataDir = mkdtempSync(join(tmpdir(), "modelvet-bench-service-"));
const server = spawn(process.execPath, [join(root, "packages/cli/bin/modelvet.js"), "serve", "--port", "0"], {
  env: {
    ...process.env,
    HOST: "127.0.0.1",
    HF_ENDPOINT: hub.hubUrl,
    MODELVET_DATA_DIR: dataDir,
    MODELVET_BOOTSTRAP_API_KEY: KEY,
    MODELVET_CACHE: "off",
    MODELVET_CONCURRENCY: "2",
    // The default level: every request is logged, as in production.
    LOG_LEVEL: "info",
  },
  stdio: ["ignore", "pipe", "inherit"],
});
const base = await new Promise<string>((resolve, reject) => {
  let out = "";
  let found = false;
  server.stdout.on("data", (chunk: Buffer) => {
    // Only the start-up lines are kept; the request log after them is drained and dropped.
    if (found || out.length > 64 * 1024) return;
    out += chunk.toString();
    const m = /"url":"(http:[^"]+)"/.exec(out);
    if (m) {
      found = true;
      resolve(m[1]!);
    }
  });
  server.on("exit", (code) => reject(new Error(`server exited (${code}): ${out}`)));
});

async function api(method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const response = await fetch(`${base}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${KEY}`, ...(body ? { "content-type": "application/json" } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return (await response.json()) as Record<string, unknown>;
}

const ws = await api("POST", "/workspaces", { name: "bench" });
const project = await api("POST", "/projects", { name: "p", workspace_id: ws.workspace_id });
const model = await api("POST", `/projects/${String(project.project_id)}/models`, {
  name: "m",
  model_config: { hugging_face: { model_uri: "bench/model" } },
});
const start = () => api("POST", "/file-scans", { model_id: model.model_id, project_id: project.project_id });
const probe = (await start()).file_scan_id as string;

/** CLIENTS loops of REQUESTS_PER_CLIENT status calls each; latencies in ms. */
async function load(): Promise<{ latencies: number[]; wallMs: number }> {
  const latencies: number[] = [];
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      for (let i = 0; i < REQUESTS_PER_CLIENT; i++) {
        const t = performance.now();
        const response = await fetch(`${base}/api/v1/file-scans/${probe}`, {
          headers: { authorization: `Bearer ${KEY}` },
        });
        await response.arrayBuffer();
        latencies.push(performance.now() - t);
      }
    }),
  );
  return { latencies, wallMs: performance.now() - t0 };
}

function report(
  label: string,
  run: { latencies: number[]; wallMs: number },
  extra: Record<string, unknown> = {},
): void {
  const sorted = [...run.latencies].sort((a, b) => a - b);
  const at = (q: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! * 100) / 100;
  console.log(
    JSON.stringify({
      case: `status call latency (${label})`,
      clients: CLIENTS,
      requests: sorted.length,
      p50_ms: at(0.5),
      p99_ms: at(0.99),
      max_ms: Math.round(sorted[sorted.length - 1]! * 100) / 100,
      requests_per_s: Math.round(sorted.length / (run.wallMs / 1000)),
      ...extra,
    }),
  );
}

// Wait for the probe scan to finish so the idle run is idle.
for (let i = 0; i < 600 && (await api("GET", `/file-scans/${probe}`)).status !== "succeeded"; i++)
  await new Promise((r) => setTimeout(r, 100));
report("idle", await load());

const ids: string[] = [];
for (let i = 0; i < SCANS; i++) ids.push((await start()).file_scan_id as string);
await new Promise((r) => setTimeout(r, 500));
const busy = await load();
const states = await Promise.all(ids.map(async (id) => (await api("GET", `/file-scans/${id}`)).status as string));
report("while scans run, 2 scan threads busy", busy, {
  scans_queued: SCANS,
  scans_finished_during_load: states.filter((s) => s === "succeeded").length,
  scans_still_running_after_load: states.filter((s) => s === "running").length,
});

server.kill("SIGTERM");
await new Promise((r) => server.once("exit", r));
await hub.stop();
rmSync(dataDir, { recursive: true, force: true });
