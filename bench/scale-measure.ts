// What the scale bench (bench/scale.ts) reads from outside the service: CPU time of processes from /proc, the
// machine's busy share, PostgreSQL's processes, and simple statistics.
import { readdirSync, readFileSync } from "node:fs";
import { loadavg } from "node:os";

const TICK_MS = 10; // Linux's USER_HZ is 100 on every architecture Node runs on

/** CPU ms of a process itself and of its children it has waited for (the scan processes of a worker). */
export function processCpuMs(pid: number): { self: number; children: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const n = (i: number): number => Number(fields[i]) * TICK_MS;
    return { self: n(11) + n(12), children: n(13) + n(14) };
  } catch {
    return undefined;
  }
}

/** All PostgreSQL server processes' CPU ms: the live ones' own time plus the postmaster's reaped children. */
export function postgresCpuMs(): number | undefined {
  const pids = readdirSync("/proc").filter((d) => /^\d+$/.test(d));
  let total = 0;
  let found = false;
  for (const d of pids) {
    let comm: string;
    let ppid: number;
    try {
      comm = readFileSync(`/proc/${d}/comm`, "utf8").trim();
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    } catch {
      continue;
    }
    if (comm !== "postgres") continue;
    const cpu = processCpuMs(Number(d));
    if (!cpu) continue;
    found = true;
    total += cpu.self;
    const parent = (() => {
      try {
        return readFileSync(`/proc/${ppid}/comm`, "utf8").trim();
      } catch {
        return "";
      }
    })();
    if (parent !== "postgres") total += cpu.children; // the postmaster: backends that have exited
  }
  return found ? total : undefined;
}

/** The machine's CPU time split: busy and total ms across all cores since boot. */
export function machineCpuMs(): { busy: number; total: number } {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: (total - idle) * TICK_MS, total: total * TICK_MS };
}

export interface CpuSample {
  at: number;
  api: number;
  workers: number;
  scanChildren: number;
  postgres: number | undefined;
  bench: number;
  machine: { busy: number; total: number };
  load: number[];
}

export function sampleCpu(apiPid: number, workerPids: number[]): CpuSample {
  const workers = workerPids.map((p) => processCpuMs(p) ?? { self: 0, children: 0 });
  const api = processCpuMs(apiPid);
  const usage = process.cpuUsage();
  return {
    at: performance.now(),
    api: (api?.self ?? 0) + (api?.children ?? 0),
    workers: workers.reduce((n, w) => n + w.self, 0),
    scanChildren: workers.reduce((n, w) => n + w.children, 0),
    postgres: postgresCpuMs(),
    bench: (usage.user + usage.system) / 1000,
    machine: machineCpuMs(),
    load: loadavg(),
  };
}

/** CPU seconds per process group between two samples, each also as a share of one core over the wall time. */
export function cpuBetween(a: CpuSample, b: CpuSample, hubBusyMs: number): Record<string, unknown> {
  const wall = b.at - a.at;
  const part = (ms: number) => ({ cpu_s: +(ms / 1000).toFixed(1), cores: +(ms / wall).toFixed(2) });
  const machineBusy = (b.machine.busy - a.machine.busy) / (b.machine.total - a.machine.total);
  return {
    wall_s: +(wall / 1000).toFixed(1),
    api_process: part(b.api - a.api),
    worker_processes: part(b.workers - a.workers),
    scan_child_processes: part(b.scanChildren - a.scanChildren),
    postgresql: b.postgres !== undefined && a.postgres !== undefined ? part(b.postgres - a.postgres) : "not readable",
    hub_server_answering: part(hubBusyMs),
    bench_process_total: part(b.bench - a.bench),
    machine_busy_share: +machineBusy.toFixed(2),
    load_average_1m_start_end: [+a.load[0]!.toFixed(2), +b.load[0]!.toFixed(2)],
  };
}

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

/** Runs `fn` over `items`, `width` at a time. */
export async function inParallel<T, R>(items: T[], width: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: width }, lane));
  return out;
}

/** Nested figures as one level of dotted keys (RESULTS.md shows one row per key); arrays stay whole. */
export function flatten(value: Record<string, unknown>, prefix = ""): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (v && typeof v === "object" && !Array.isArray(v))
      Object.assign(out, flatten(v as Record<string, unknown>, `${prefix}${k}.`));
    else out[`${prefix}${k}`] = Array.isArray(v) ? v.join(", ") : v;
  }
  return out;
}
