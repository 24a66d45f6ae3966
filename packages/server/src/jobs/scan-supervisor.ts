import { fork, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { JobAbortedError } from "./queue.js";
import type { ScanInput, ScanMessage } from "./scan-process.js";

/**
 * Runs one scan in a child process and enforces its limits:
 * - memory: V8's heap flags cap the JavaScript heap, and a watchdog reads the child's resident set (VmRSS in
 *   /proc/<pid>/status, so native allocations such as decompressor buffers count) and kills it at the limit;
 * - CPU time: RLIMIT_CPU set with util-linux `prlimit` where it exists (the kernel sends SIGXCPU, then SIGKILL),
 *   and in any case the wall-clock timeout of the job.
 * RLIMIT_AS/RLIMIT_DATA are not used: V8 reserves far more address space than it touches, so an address-space
 * limit near the scan's budget stops Node from starting at all.
 */
export interface ScanLimits {
  ramMegabytes: number;
  timeoutSeconds: number;
}

export type ScanOutcome =
  | Extract<ScanMessage, { type: "done" }>
  | { type: "failed"; message: string; actionable: boolean }
  /** The child died abnormally; `cause` decides whether a retry with more memory may help. */
  | { type: "crashed"; cause: "memory" | "cpu" | "crash"; message: string };

export type ProgressListener = (progress: Extract<ScanMessage, { type: "progress" }>) => void;

const PROCESS_URL = new URL("./scan-process.js", import.meta.url);
/** How often the watchdog reads the child's resident set. */
const WATCH_MS = 50;
/** The last bytes of the child's stderr kept to explain a crash (V8 prints "heap out of memory" there). */
const STDERR_TAIL = 4096;

export function scanInChild(
  input: ScanInput,
  limits: ScanLimits,
  signal: AbortSignal,
  onProgress: ProgressListener,
): Promise<ScanOutcome> {
  const child = fork(PROCESS_URL, [], {
    execArgv: v8Flags(limits.ramMegabytes),
    stdio: ["ignore", "ignore", "pipe", "ipc"],
    serialization: "advanced",
    env: childEnv(),
  });
  if (child.pid !== undefined) limitCpu(child.pid, limits.timeoutSeconds);
  return new Promise((resolve, reject) => {
    let stderr = "";
    let verdict: ScanOutcome | undefined;
    let settled = false;
    const finish = (action: () => void): void => {
      if (settled) return;
      settled = true;
      clearInterval(watchdog);
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      action();
    };
    const kill = (outcome: ScanOutcome): void => {
      verdict ??= outcome;
      child.kill("SIGKILL");
    };
    const watchdog = setInterval(() => {
      const rss = child.pid === undefined ? undefined : residentMegabytes(child.pid);
      if (rss !== undefined && rss > limits.ramMegabytes) kill(memoryCrash(limits.ramMegabytes));
    }, WATCH_MS);
    const timer = setTimeout(
      () =>
        finish(() =>
          resolve({
            type: "failed",
            actionable: true,
            message: `the scan took longer than ${limits.timeoutSeconds} s (MODELVET_JOB_TIMEOUT_SECONDS); scan a smaller model or raise the limit`,
          }),
        ),
      limits.timeoutSeconds * 1000,
    );
    const onAbort = (): void => finish(() => reject(new JobAbortedError()));
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString("utf8")).slice(-STDERR_TAIL);
    });
    child.on("message", (message: ScanMessage) => {
      if (message.type === "progress") onProgress(message);
      else verdict ??= message;
    });
    child.on("error", (e) => kill({ type: "crashed", cause: "crash", message: `scan process failed: ${e.message}` }));
    child.on("exit", (code, exitSignal) =>
      finish(() => resolve(verdict ?? explainExit(code, exitSignal, stderr, limits.ramMegabytes))),
    );
    child.send(input);
  });
}

/**
 * Heap flags within the scan's budget: the young generation is kept small and the old generation gets what is
 * left after Node's own footprint, so V8 fails a runaway heap before the watchdog has to kill.
 */
export function v8Flags(ramMegabytes: number): string[] {
  const semiSpace = Math.max(1, Math.min(16, Math.floor(ramMegabytes / 32)));
  const oldSpace = Math.max(32, ramMegabytes - NODE_FOOTPRINT_MB - 3 * semiSpace);
  return [`--max-old-space-size=${oldSpace}`, `--max-semi-space-size=${semiSpace}`];
}

/** Resident memory of a Node process that has loaded the engine, before it reads any model. */
const NODE_FOOTPRINT_MB = 64;

function memoryCrash(ramMegabytes: number): ScanOutcome {
  return {
    type: "crashed",
    cause: "memory",
    message: `scan exceeded ${ramMegabytes} MB (ram_request_megabytes); the model needs more memory than that to read`,
  };
}

function explainExit(
  code: number | null,
  exitSignal: NodeJS.Signals | null,
  stderr: string,
  ramMegabytes: number,
): ScanOutcome {
  if (/heap out of memory|Reached heap limit|Allocation failed/i.test(stderr)) return memoryCrash(ramMegabytes);
  if (exitSignal === "SIGXCPU")
    return { type: "crashed", cause: "cpu", message: "scan process exceeded its CPU time limit (SIGXCPU)" };
  if (exitSignal) return { type: "crashed", cause: "crash", message: `scan process crashed: ${exitSignal}` };
  return { type: "crashed", cause: "crash", message: `scan process crashed: exit code ${code}` };
}

/** VmRSS of a live process in MB; undefined where /proc is not there (the heap flags still apply). */
export function residentMegabytes(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const match = /^VmRSS:\s+(\d+) kB/m.exec(status);
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

let prlimitAvailable: boolean | undefined;

/** RLIMIT_CPU on the child through util-linux `prlimit`; without it the wall-clock timeout alone bounds a scan. */
function limitCpu(pid: number, seconds: number): void {
  prlimitAvailable ??= spawnSync("prlimit", ["--version"], { stdio: "ignore" }).status === 0;
  if (!prlimitAvailable) return;
  spawnSync("prlimit", ["--pid", String(pid), `--cpu=${seconds}:${seconds + 5}`], { stdio: "ignore" });
}

/** The child needs no secret of the server's environment (DATABASE_URL, MODELVET_SECRET_KEY, HF_TOKEN). */
function childEnv(): NodeJS.ProcessEnv {
  const keep = ["PATH", "HOME", "TMPDIR", "LANG", "TZ", "NODE_OPTIONS", "NODE_EXTRA_CA_CERTS"];
  return Object.fromEntries(keep.filter((k) => process.env[k] !== undefined).map((k) => [k, process.env[k]]));
}
