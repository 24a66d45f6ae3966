// Scale-out fail-over and scan-process overhead. Prints one JSON line per case (bench/run.mjs records them).
// Runnable alone after `npm run build`: node --import tsx bench/failover.ts
//
// 1. Fail-over: PostgreSQL + pg-boss, one API server and two `modelvet worker` processes with the production
//    settings (MODELVET_JOB_TIMEOUT_SECONDS=900, default 30 s heartbeat lease). Five times: a scan is held
//    mid-download by a gate in front of the test Hub, the worker running it is SIGKILLed, and the time until the
//    other worker has finished the scan is measured; a fresh worker replaces the dead one. Skipped (one line)
//    where PostgreSQL does not answer.
// 2. Scan-process overhead: the same small scan run in the measuring process and in a scan child process (as the
//    service runs every scan), median of 10 each; the child's peak RSS comes from a probe loaded through
//    NODE_OPTIONS that writes process.resourceUsage().maxRSS when the child exits.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { scanTargetsWithInventories } from "@modelvet/engine";
import {
  ADMIN_KEY,
  CliProcess,
  createPgDatabase,
  httpClient,
  registerPayloadModel,
  SECRET_KEY,
  startHub,
  waitUntil,
} from "../packages/server/test/helpers.js";
import { HubGate } from "../packages/server/test/support/hub-gate.js";
import { scanInChild } from "../packages/server/dist/jobs/scan-supervisor.js";

const KILLS = 5;
const root = new URL("../", import.meta.url).pathname;
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function failover(): Promise<void> {
  const pgDb = await createPgDatabase();
  if (!pgDb) {
    console.error("failover: skipped, PostgreSQL does not answer");
    return;
  }
  const hub = await startHub();
  const gate = new HubGate(hub.hubUrl);
  await gate.start();
  const dataDir = mkdtempSync(join(tmpdir(), "modelvet-bench-failover-"));
  const processes: CliProcess[] = [];
  const cli = (args: string[]): CliProcess => {
    const p = new CliProcess(args, {
      DATABASE_URL: pgDb.url,
      HF_ENDPOINT: gate.url,
      MODELVET_BOOTSTRAP_API_KEY: ADMIN_KEY,
      MODELVET_SECRET_KEY: SECRET_KEY,
      MODELVET_DATA_DIR: dataDir,
      MODELVET_CACHE: "off",
      MODELVET_JOB_TIMEOUT_SECONDS: "900",
    });
    processes.push(p);
    return p;
  };
  try {
    const server = cli(["serve", "--no-worker", "--port", "0"]);
    const api = httpClient((await server.waitForLog("modelvet serving")).url as string, ADMIN_KEY);
    const startWorker = async (): Promise<CliProcess> => {
      const w = cli(["worker", "--concurrency", "1"]);
      await w.waitForLog("modelvet worker running");
      return w;
    };
    let workers = [await startWorker(), await startWorker()];
    const { projectId, modelId } = await registerPayloadModel(api);
    const times: number[] = [];
    for (let i = 0; i < KILLS; i++) {
      gate.close();
      const id = (await api("POST", "/file-scans", { model_id: modelId, project_id: projectId })).body
        .file_scan_id as string;
      let scan: Record<string, unknown> = {};
      await waitUntil(
        async () => (scan = (await api("GET", `/file-scans/${id}`)).body).status === "running" && gate.held === 1,
        60_000,
        () => "a held scan",
      );
      const attempts = scan.attempts as Array<{ worker?: string }>;
      const pid = attempts.at(-1)?.worker?.split(":")[1];
      const victim = workers.find((w) => String(w.child.pid) === pid)!;
      const killedAt = performance.now();
      await victim.kill("SIGKILL");
      gate.open();
      await waitUntil(
        async () => (await api("GET", `/file-scans/${id}`)).body.status === "succeeded",
        120_000,
        () => "the scan to finish on the other worker",
      );
      times.push(performance.now() - killedAt);
      workers = [...workers.filter((w) => w !== victim), await startWorker()];
    }
    console.log(
      JSON.stringify({
        case: "scale-out fail-over after SIGKILL of a worker (pg-boss, 900 s job timeout, 30 s lease)",
        kills: KILLS,
        median_s: +(median(times) / 1000).toFixed(1),
        min_s: +(Math.min(...times) / 1000).toFixed(1),
        max_s: +(Math.max(...times) / 1000).toFixed(1),
        goal: "median at most 60 s",
        met: median(times) <= 60_000,
      }),
    );
  } finally {
    for (const p of processes) await p.kill("SIGKILL");
    await gate.stop();
    await hub.stop();
    await pgDb.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function overhead(): Promise<void> {
  const file = join(root, "packages/engine/test/fixtures/adversarial/o6-inst.pkl");
  const probeDir = mkdtempSync(join(tmpdir(), "modelvet-bench-probe-"));
  const probe = join(probeDir, "probe.mjs");
  writeFileSync(
    probe,
    [
      'import { writeFileSync } from "node:fs";',
      'import { join } from "node:path";',
      "process.on('exit', () => writeFileSync(join(process.env.TMPDIR, `rss-${process.pid}`), " +
        "String(process.resourceUsage().maxRSS)));",
    ].join("\n"),
  );
  const RUNS = 10;
  const inProcess: number[] = [];
  const child: number[] = [];
  await scanTargetsWithInventories([file], { cacheDir: false }); // warm: the engine is loaded once in a server
  for (let i = 0; i < RUNS; i++) {
    let t = performance.now();
    await scanTargetsWithInventories([file], { cacheDir: false });
    inProcess.push(performance.now() - t);
    const saved = { options: process.env.NODE_OPTIONS, tmp: process.env.TMPDIR };
    process.env.NODE_OPTIONS = `--import ${probe}`;
    process.env.TMPDIR = probeDir;
    t = performance.now();
    const outcome = await scanInChild(
      { target: file, revision: "main", endpoint: "http://127.0.0.1:9", cacheDir: false },
      { ramMegabytes: 2048, timeoutSeconds: 60 },
      new AbortController().signal,
      () => undefined,
    );
    child.push(performance.now() - t);
    process.env.NODE_OPTIONS = saved.options ?? "";
    if (saved.tmp === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved.tmp;
    if (outcome.type !== "done") throw new Error(`child scan did not finish: ${JSON.stringify(outcome)}`);
  }
  const rss = readdirSync(probeDir)
    .filter((f) => f.startsWith("rss-"))
    .map((f) => Number(readFileSync(join(probeDir, f), "utf8")) / 1024);
  rmSync(probeDir, { recursive: true, force: true });
  console.log(
    JSON.stringify({
      case: "scan child process overhead (one small pickle)",
      runs: RUNS,
      in_process_median_ms: +median(inProcess).toFixed(1),
      child_median_ms: +median(child).toFixed(1),
      overhead_ms: +(median(child) - median(inProcess)).toFixed(1),
      child_peak_rss_median_mb: Math.round(median(rss)),
      probes: rss.length,
    }),
  );
}

const only = process.argv[2];
if (!only || only === "overhead") await overhead();
if (!only || only === "failover") await failover();
