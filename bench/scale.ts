// Continuous scanning at scale: the scale-out service (PostgreSQL + pg-boss, one `modelvet serve --no-worker`
// and 1 or 2 `modelvet worker` processes) following 1,000 repos on the test Hub. Prints one JSON line per worker
// count (bench/run.mjs records them). Runnable alone after `npm run build`: node --import tsx bench/scale.ts
//
// Each run, on a fresh database, data folder and inventory cache: register and follow every repo, scan them all
// (repos per minute, bytes and Hub requests per repo), then push a new commit to 5 % of them (half told by the Hub
// webhook, half found by the poller) and time each until its new verdict is stored. Two Hub servers serve the same
// repos: the API process (poller, webhook) talks to one and the workers (scans) to the other, so their requests
// are counted apart. CPU of every process group is read from /proc. MODELVET_BENCH_SCALE_REPOS changes the count.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { FakeHub, type ServerStats } from "../packages/engine/test/support/hub-server.js";
import { ADMIN_KEY, CliProcess, createPgDatabase, httpClient, SECRET_KEY } from "../packages/server/test/helpers.js";
import { benchRepos, lfsIndex, push, repoOfRequest, type BenchRepo } from "./scale-repos.js";
import { cpuBetween, flatten, inParallel, median, percentile, sampleCpu } from "./scale-measure.js";

const REPOS = Number(process.env.MODELVET_BENCH_SCALE_REPOS ?? 1000);
const WORKER_COUNTS = (process.env.MODELVET_BENCH_SCALE_WORKERS ?? "1,2").split(",").map(Number);
/** Each followed repo is polled this often (the production default is 900 s; shorter, so the bench sees it). */
const POLL_SECONDS = 30;
const HOOK_SECRET = "bench-hook-secret-0123456789";
/** Scans run at once by each worker: the service's default (MODELVET_CONCURRENCY). */
const SLOTS_PER_WORKER = 2;
const round = (n: number, digits = 1): number => +n.toFixed(digits);

interface ScanRow {
  id: string;
  model_id: string;
  status: string;
  severity: number | null;
  created: number;
  started: number;
  finished: number;
  revision: string | null;
  reason: string | null;
}

async function scanRows(db: pg.Client, ids?: string[]): Promise<ScanRow[]> {
  const rows = await db.query<Record<string, string | number | null>>(
    `SELECT id, model_id, status, severity, created_at, started_at, finished_at, revision, reason FROM file_scans` +
      (ids ? ` WHERE id = ANY($1)` : ""),
    ids ? [ids] : [],
  );
  return rows.rows.map((r) => ({
    id: r.id as string,
    model_id: r.model_id as string,
    status: r.status as string,
    severity: r.severity as number | null,
    created: Date.parse(r.created_at as string),
    started: Date.parse((r.started_at as string | null) ?? ""),
    finished: Date.parse((r.finished_at as string | null) ?? ""),
    revision: r.revision as string | null,
    reason: r.reason as string | null,
  }));
}

async function waitFor(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`scale bench: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Bytes and requests per repo from a Hub server's log, split by what they were. */
function hubTraffic(stats: ServerStats, byLfs: Map<string, string>) {
  const perRepo = new Map<string, { bytes: number; requests: number; files: Set<string> }>();
  let unattributed = 0;
  for (const r of stats.requests) {
    const repo = repoOfRequest(r.url, byLfs);
    if (!repo) {
      unattributed++;
      continue;
    }
    const entry = perRepo.get(repo) ?? { bytes: 0, requests: 0, files: new Set<string>() };
    entry.bytes += r.bytes;
    entry.requests++;
    const lfs = /^\/lfs\/([0-9a-f]+)/.exec(r.url)?.[1];
    const resolved = /\/resolve\/[^/]+\/(.+)$/.exec(r.url.split("?")[0]!)?.[1];
    if (lfs) entry.files.add(`lfs:${lfs}`);
    else if (resolved && (r.status === 200 || r.status === 206))
      entry.files.add(`path:${decodeURIComponent(resolved)}`);
    perRepo.set(repo, entry);
  }
  const kinds = {
    api: stats.requests.filter((r) => r.url.startsWith("/api/")).length,
    resolve: stats.requests.filter((r) => r.origin === "hub" && r.url.includes("/resolve/")).length,
    storage: stats.requests.filter((r) => r.origin === "storage").length,
  };
  return { perRepo, unattributed, kinds, bytes: stats.bytesSent, requests: stats.requests.length };
}

function perKind(repos: BenchRepo[], perRepo: Map<string, { bytes: number; requests: number }>) {
  const out: Record<string, { repos: number; bytes_per_repo: number; requests_per_repo: number }> = {};
  for (const kind of ["torch", "safetensors", "pickles"] as const) {
    const of = repos.filter((r) => r.kind === kind);
    const sum = (f: (x: { bytes: number; requests: number }) => number) =>
      of.reduce((n, r) => n + f(perRepo.get(r.id) ?? { bytes: 0, requests: 0 }), 0);
    out[kind] = {
      repos: of.length,
      bytes_per_repo: Math.round(sum((x) => x.bytes) / Math.max(1, of.length)),
      requests_per_repo: round(sum((x) => x.requests) / Math.max(1, of.length)),
    };
  }
  return out;
}

async function runOnce(workerCount: number): Promise<Record<string, unknown> | undefined> {
  const pgDb = await createPgDatabase();
  if (!pgDb) return undefined;
  const repos = benchRepos(REPOS);
  const byLfs = lfsIndex(repos);
  const scanHub = new FakeHub();
  const pollHub = new FakeHub();
  for (const hub of [scanHub, pollHub]) {
    for (const r of repos) hub.addRepo(r.spec);
    await hub.start();
  }
  const dataDir = mkdtempSync(join(tmpdir(), "modelvet-bench-scale-"));
  const env = {
    DATABASE_URL: pgDb.url,
    MODELVET_BOOTSTRAP_API_KEY: ADMIN_KEY,
    MODELVET_SECRET_KEY: SECRET_KEY,
    MODELVET_DATA_DIR: dataDir,
    LOG_LEVEL: "warn",
  };
  const processes: CliProcess[] = [];
  const db = new pg.Client({ connectionString: pgDb.url });
  try {
    const server = new CliProcess(["serve", "--no-worker", "--port", "0"], {
      ...env,
      LOG_LEVEL: "info",
      HF_ENDPOINT: pollHub.hubUrl,
      MODELVET_FOLLOW_TICK_MS: "1000",
    });
    processes.push(server);
    const base = (await server.waitForLog("modelvet serving", 60_000)).url as string;
    const api = httpClient(base, ADMIN_KEY);
    const workers: CliProcess[] = [];
    for (let i = 0; i < workerCount; i++) {
      const w = new CliProcess(["worker"], { ...env, LOG_LEVEL: "info", HF_ENDPOINT: scanHub.hubUrl });
      processes.push(w);
      workers.push(w);
      await w.waitForLog("modelvet worker running", 60_000);
    }
    await db.connect();
    const cpu = () =>
      sampleCpu(
        server.child.pid!,
        workers.map((w) => w.child.pid!),
      );

    // 1. Register and follow every repo.
    const tRegister = performance.now();
    const ws = (await api("POST", "/workspaces", { name: "scale" })).body.workspace_id as string;
    const follow = await api("PATCH", `/workspaces/${ws}/follow`, {
      poll_interval_seconds: POLL_SECONDS,
      hook_secret: HOOK_SECRET,
    });
    if (follow.status !== 200) throw new Error(follow.text);
    const project = (await api("POST", "/projects", { name: "scale", workspace_id: ws })).body.project_id as string;
    const modelOf = new Map<string, string>();
    await inParallel(repos, 8, async (r) => {
      const m = await api("POST", `/projects/${project}/models`, {
        name: r.id,
        model_config: { hugging_face: { model_uri: r.id } },
      });
      const followed = (m.body.model_config as { hugging_face?: { follow?: boolean } } | undefined)?.hugging_face;
      if (m.status !== 201 || followed?.follow !== true) throw new Error(`register ${r.id}: ${m.text}`);
      modelOf.set(r.id, m.body.model_id as string);
    });
    const registerS = (performance.now() - tRegister) / 1000;

    // 2. Scan every repo once (cold: empty inventory cache).
    scanHub.resetStats();
    pollHub.resetStats();
    const c0 = cpu();
    const scanIds = await inParallel(repos, 8, async (r) => {
      const s = await api("POST", "/file-scans", { model_id: modelOf.get(r.id), project_id: project });
      if (s.status !== 202) throw new Error(`scan ${r.id}: ${s.text}`);
      return s.body.file_scan_id as string;
    });
    const queuedS = (c0.at - performance.now()) / -1000;
    await waitFor("every first scan", 30 * 60_000, async () => {
      const n = await db.query(`SELECT count(*)::int AS n FROM file_scans WHERE status IN ('succeeded','failed')`);
      return (n.rows[0] as { n: number }).n >= repos.length;
    });
    const c1 = cpu();
    const cold = hubTraffic(scanHub.stats, byLfs);
    const coldHubBusy = scanHub.stats.busyMs + pollHub.stats.busyMs;
    const pollDuringScan = pollHub.stats.requests.length;
    const pollsDuringScans = pollHub.stats.requests.filter((r) => r.url.includes("/revision/")).length;
    const first = await scanRows(db, scanIds);
    const failed = first.filter((s) => s.status !== "succeeded");
    const span = Math.max(...first.map((s) => s.finished)) - Math.min(...first.map((s) => s.created));
    const runTimes = first.map((s) => s.finished - s.started);
    const slotBusy = runTimes.reduce((a, b) => a + b, 0) / (span * workerCount * SLOTS_PER_WORKER);
    const firstById = new Map(first.map((s) => [s.id, s]));
    const wrongVerdicts = repos.filter((r, i) => (firstById.get(scanIds[i]!)?.severity === 3) !== r.payload);
    const scansPerWorker = workers.map((w) => w.logged("scan succeeded").length);

    // 3. Change 5 % of the repos: webhook deliveries first (spaced, as pushes arrive), then pushes the poller finds.
    scanHub.resetStats();
    pollHub.resetStats();
    const c2 = cpu();
    const changed = repos.filter((r) => r.change);
    const hooked: Array<{ repo: BenchRepo; at: number; ids: string[]; status: number }> = [];
    for (const r of changed.filter((x) => x.change!.via === "webhook")) {
      push(r);
      const at = Date.now();
      const answer = await fetch(`${base}/api/v1/hooks/huggingface/${ws}`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-webhook-secret": HOOK_SECRET },
        body: JSON.stringify({
          event: { action: "update", scope: "repo.content" },
          repo: { type: "model", name: r.id, headSha: r.change!.sha },
          updatedRefs: [{ ref: "refs/heads/main", oldSha: r.first, newSha: r.change!.sha }],
          webhook: { id: "bench", version: 3 },
        }),
      });
      const body = (await answer.json()) as { queued?: string[] };
      hooked.push({ repo: r, at, ids: body.queued ?? [], status: answer.status });
      await new Promise((res) => setTimeout(res, 250));
    }
    const polled = changed.filter((x) => x.change!.via === "polling");
    const pushedAt = Date.now();
    for (const r of polled) push(r);
    const newScans = async () => {
      const rows = await scanRows(db);
      return rows.filter((s) => changed.some((r) => r.change!.sha === s.revision && modelOf.get(r.id) === s.model_id));
    };
    let after: ScanRow[] = [];
    await waitFor("the changed repos' new verdicts", (POLL_SECONDS * 1.2 + 300) * 1000, async () => {
      after = await newScans();
      return after.filter((s) => s.status === "succeeded" || s.status === "failed").length >= changed.length;
    });
    const c3 = cpu();
    const rescan = hubTraffic(scanHub.stats, byLfs);
    const changeHubBusy = scanHub.stats.busyMs + pollHub.stats.busyMs;
    const scanOf = (r: BenchRepo) =>
      after.find((s) => s.revision === r.change!.sha && s.model_id === modelOf.get(r.id))!;
    const hookLatency = hooked.map((h) => scanOf(h.repo).finished - h.at);
    const hookQueueWait = hooked.map((h) => scanOf(h.repo).started - scanOf(h.repo).created);
    const pollLatency = polled.map((r) => scanOf(r).finished - pushedAt);
    // Unchanged files must not be read again: every storage or resolve request of a re-scan names a changed file.
    const changedKeys = new Set(
      changed.flatMap((r) => r.change!.files.map((f) => (f.lfs ? `lfs:${f.lfsOid}` : `path:${f.path}`))),
    );
    const unchangedReads = [...rescan.perRepo.values()].flatMap((e) => [...e.files].filter((k) => !changedKeys.has(k)));
    const changedBytes = changed.reduce((n, r) => n + r.change!.bytes, 0);
    const dbSize = (await db.query(`SELECT pg_database_size(current_database())::bigint AS n`)).rows[0] as {
      n: string;
    };
    const reasons = after.reduce<Record<string, number>>(
      (m, s) => ((m[s.reason ?? "none"] = (m[s.reason ?? "none"] ?? 0) + 1), m),
      {},
    );
    // Over both phases: the pollers' model-info requests against the polls due in that time.
    const polls = pollsDuringScans + pollHub.stats.requests.filter((r) => r.url.includes("/revision/")).length;
    const pollRequestsPerRepoPerInterval = polls / repos.length / ((c3.at - c0.at) / 1000 / POLL_SECONDS);

    return {
      case: `continuous scanning at scale: ${repos.length} repos, ${workerCount} worker process${workerCount > 1 ? "es" : ""}`,
      repos: repos.length,
      workers: workerCount,
      scan_slots: workerCount * SLOTS_PER_WORKER,
      register_and_follow_s: round(registerS),
      first_scans: {
        queued_in_s: round(queuedS),
        all_done_s: round(span / 1000),
        repos_per_minute: round(repos.length / (span / 60_000)),
        failed: failed.length,
        verdicts_wrong: wrongVerdicts.length,
        alerts: first.filter((s) => s.severity === 3).length,
        scans_by_worker: scansPerWorker,
        scan_run_ms_median: Math.round(median(runTimes)),
        scan_run_ms_p90: Math.round(percentile(runTimes, 90)),
        slot_busy_share: round(slotBusy, 2),
        hub_bytes_per_repo: Math.round(cold.bytes / repos.length),
        hub_requests_per_repo: round(cold.requests / repos.length),
        hub_requests_by_type: cold.kinds,
        by_kind: perKind(repos, cold.perRepo),
        poll_requests_meanwhile: pollDuringScan,
        cpu: cpuBetween(c0, c1, coldHubBusy),
      },
      changes: {
        changed_repos: changed.length,
        via_webhook: hooked.length,
        webhook_answers_202: hooked.filter((h) => h.status === 202 && h.ids.length === 1).length,
        via_polling: polled.length,
        scans_by_reason: reasons,
        new_alerts: after.filter((s) => s.severity === 3).length,
        expected_new_alerts: changed.filter((r) => r.change!.kind === "payload added" || r.payload).length,
        webhook_to_verdict_ms: { median: Math.round(median(hookLatency)), max: Math.round(Math.max(...hookLatency)) },
        webhook_queue_wait_ms: {
          median: Math.round(median(hookQueueWait)),
          max: Math.round(Math.max(...hookQueueWait)),
        },
        push_to_verdict_by_polling_s: {
          median: round(median(pollLatency) / 1000),
          max: round(Math.max(...pollLatency) / 1000),
        },
        rescan_hub_bytes_per_repo: Math.round(rescan.bytes / changed.length),
        cold_hub_bytes_of_these_repos_per_repo: Math.round(
          changed.reduce((n, r) => n + (cold.perRepo.get(r.id)?.bytes ?? 0), 0) / changed.length,
        ),
        changed_file_size_per_repo: Math.round(changedBytes / changed.length),
        rescan_hub_requests_per_repo: round(rescan.requests / changed.length),
        rescan_by_kind: perKind(changed, rescan.perRepo),
        unchanged_file_reads: unchangedReads.length,

        cpu: cpuBetween(c2, c3, changeHubBusy),
      },
      polling: {
        interval_s: POLL_SECONDS,
        hub_requests_per_repo_per_interval: round(pollRequestsPerRepoPerInterval, 2),
      },
      postgres_database_mb: round(Number(dbSize.n) / 1024 ** 2),
    };
  } finally {
    await db.end().catch(() => undefined);
    for (const p of processes) await p.kill("SIGKILL");
    await scanHub.stop();
    await pollHub.stop();
    await pgDb.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

for (const workers of WORKER_COUNTS) {
  const row = await runOnce(workers);
  if (!row) {
    console.error("scale: skipped, PostgreSQL does not answer");
    break;
  }
  console.log(JSON.stringify(flatten(row)));
}
