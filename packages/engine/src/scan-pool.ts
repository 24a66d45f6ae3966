import type { Worker } from "node:worker_threads";
import type { ScanLimits } from "./inspect.js";
import type { ActiveFile, ItemResult, WorkItem } from "./scan-item.js";

/**
 * Fewest local files for which worker threads are considered at all: a thread costs tens of milliseconds to start
 * and a few hundred milliseconds of CPU before its fresh isolate runs the readers at full speed.
 */
export const POOL_MIN_FILES = 64;

/**
 * Worker threads start only when the files left are estimated to take at least this long on this thread alone
 * (unless `jobs` was asked for explicitly). Measured on 2 cores: 20,000 small pickles (1.1 s in all, estimated
 * at 2.2 s while code is still warming up) scan slower with a second thread, whose own warm-up costs more than
 * its share; 128 opcode-dense pickles (4–5 s, estimated at 4.5 s) take 0.6–0.7 of the time.
 */
export const POOL_MIN_WORK_MS = 3000;

/** The work left is estimated from the rate of this thread's files over this long, after as long a warm-up. */
const ESTIMATE_AFTER_MS = 100;

/** Most files a worker is handed at once: enough to amortise a message, few enough to keep threads level at the end. */
const MAX_BATCH = 32;

/** Batches a worker holds at once: it starts the next one while this thread answers its message. */
const BATCHES_AHEAD = 2;

/** This thread lets worker messages in at least this often while it scans files itself. */
const YIELD_EVERY_MS = 1;

/** What the worker script receives as workerData: how each file is scanned, as on this thread. */
export interface WorkerSetup {
  limits?: Partial<ScanLimits> | undefined;
  cacheDir?: string | false | undefined;
  /** Files in flight at once on each thread. */
  concurrency: number;
  /** Set when progress is wanted: how often a worker reports the bytes of the files it is reading. */
  progressIntervalMs?: number | undefined;
}

export interface PoolSetup extends WorkerSetup {
  /** Threads scanning in all, this one included (`--jobs`). */
  jobs: number;
  /** The worker script (scan-worker.js, or a bundle's copy of it). */
  workerUrl: URL;
  /** Start the workers before the first file (`jobs` asked for explicitly), not once the work proves large. */
  startAtOnce?: boolean;
}

export interface PoolHooks {
  /** Scans item `index` on this thread (its progress included). */
  scanHere(index: number): Promise<ItemResult>;
  /** A worker began reading item `index`: the counters the progress tracker polls. */
  started(index: number): ActiveFile;
  /** A worker finished item `index`. */
  finished(index: number, result: ItemResult): void;
}

/** Messages between this thread and a worker. */
export interface BatchMessage {
  batch: number;
  files: Array<{ index: number; path: string }>;
}
export type WorkerMessage =
  | { kind: "done"; batch: number; results: ItemResult[] }
  | { kind: "reading"; index: number }
  | { kind: "bytes"; files: Array<{ index: number; bytesRead: number; decompressed: number }> };

/**
 * Scans items on this thread and, when the work is large enough, `jobs - 1` worker threads; results in the items'
 * order. Workers take only local files (by path); Hub files stay here, with their shared HTTP gate. A worker that
 * cannot start or dies hands its unfinished files back, and this thread scans them: no file is ever left out, and
 * a report never depends on how the files were spread. Also returns how many threads took part.
 */
export async function scanWithWorkers(
  items: readonly WorkItem[],
  setup: PoolSetup,
  hooks: PoolHooks,
): Promise<{ results: ItemResult[]; threads: number }> {
  const queue = new WorkQueue(items);
  const results = new Array<ItemResult>(items.length);
  const workers: Array<Promise<boolean>> = [];
  const startWorkers = async (): Promise<void> => {
    const { Worker } = await import("node:worker_threads");
    const { limits, cacheDir, concurrency, progressIntervalMs } = setup;
    const workerData: WorkerSetup = { limits, cacheDir, concurrency, progressIntervalMs };
    for (let i = 1; i < setup.jobs; i++)
      workers.push(runWorker(new Worker(setup.workerUrl, { workerData }), setup.jobs, queue, items, hooks, results));
  };
  let deciding: Promise<void> | undefined = setup.startAtOnce ? startWorkers() : undefined;
  const estimate = new WorkEstimate(Date.now(), POOL_MIN_WORK_MS);
  const scanHere = async (): Promise<void> => {
    let yielded = Date.now();
    for (let index = queue.takeHere(); index !== undefined; index = queue.takeHere()) {
      results[index] = await hooks.scanHere(index);
      estimate.fileDone();
      if (!deciding && queue.localLeft() >= POOL_MIN_FILES && estimate.worthWorkers(Date.now(), queue.localLeft()))
        deciding = startWorkers();
      // Small files are read synchronously: without a pause, worker messages would wait for this thread to finish.
      if (workers.length > 0 && Date.now() - yielded >= YIELD_EVERY_MS) {
        await new Promise((resolve) => setImmediate(resolve));
        yielded = Date.now();
      }
    }
  };
  for (;;) {
    await Promise.all(Array.from({ length: setup.concurrency }, scanHere));
    await deciding;
    const worked = await Promise.all(workers);
    if (!queue.hasHandedBack()) return { results, threads: 1 + worked.filter(Boolean).length };
  }
}

/**
 * Whether the files left justify worker threads, from this thread's rate. The rate is measured from
 * ESTIMATE_AFTER_MS on, over at least as long: the first files run cold code and would overstate the work.
 */
export class WorkEstimate {
  private done = 0;
  private window: { at: number; done: number } | undefined;

  constructor(
    private readonly started: number,
    private readonly minWorkMs: number,
  ) {}

  fileDone(): void {
    this.done++;
  }

  worthWorkers(now: number, filesLeft: number): boolean {
    if (now - this.started < ESTIMATE_AFTER_MS) return false;
    this.window ??= { at: now, done: this.done };
    if (now - this.window.at < ESTIMATE_AFTER_MS) return false;
    const msPerFile = (now - this.window.at) / Math.max(1, this.done - this.window.done);
    return msPerFile * filesLeft >= this.minWorkMs;
  }
}

/** Indexes still to scan: local files for any thread, other files and handed-back ones for this thread only. */
class WorkQueue {
  private readonly local: number[] = [];
  private readonly remote: number[] = [];
  private readonly handedBack: number[] = [];
  private nextLocal = 0;
  private nextRemote = 0;

  constructor(items: readonly WorkItem[]) {
    items.forEach((item, index) => (item.local ? this.local : this.remote).push(index));
  }

  takeHere(): number | undefined {
    if (this.handedBack.length > 0) return this.handedBack.pop();
    if (this.nextRemote < this.remote.length) return this.remote[this.nextRemote++];
    if (this.nextLocal < this.local.length) return this.local[this.nextLocal++];
    return undefined;
  }

  /** Local files for a worker: a share of what is left, so the threads finish together. */
  takeBatch(threads: number): number[] {
    const size = Math.min(MAX_BATCH, Math.max(1, Math.ceil(this.localLeft() / (threads * 4))));
    const batch = this.local.slice(this.nextLocal, this.nextLocal + size);
    this.nextLocal += batch.length;
    return batch;
  }

  handBack(indexes: Iterable<number>): void {
    this.handedBack.push(...indexes);
  }

  localLeft(): number {
    return this.local.length - this.nextLocal;
  }

  hasHandedBack(): boolean {
    return this.handedBack.length > 0;
  }
}

/** Feeds one worker batches until the local files run out; resolves when it has ended (or died): did it scan? */
function runWorker(
  worker: Worker,
  threads: number,
  queue: WorkQueue,
  items: readonly WorkItem[],
  hooks: PoolHooks,
  results: ItemResult[],
): Promise<boolean> {
  let scanned = false;
  const outstanding = new Map<number, number[]>();
  const reading = new Map<number, ActiveFile>();
  let batches = 0;
  let ending = false;
  const topUp = (): void => {
    while (outstanding.size < BATCHES_AHEAD) {
      const batch = queue.takeBatch(threads);
      if (batch.length === 0) break;
      outstanding.set(++batches, batch);
      const message: BatchMessage = {
        batch: batches,
        files: batch.map((index) => ({ index, path: items[index]!.path })),
      };
      worker.postMessage(message);
    }
    if (outstanding.size === 0 && !ending) {
      ending = true;
      void worker.terminate();
    }
  };
  return new Promise((resolve) => {
    worker.on("message", (message: WorkerMessage) => {
      if (message.kind === "reading") reading.set(message.index, hooks.started(message.index));
      else if (message.kind === "bytes") {
        for (const file of message.files) {
          const active = reading.get(file.index);
          if (!active) continue;
          active.source = { bytesRead: file.bytesRead };
          active.counters.decompressed = file.decompressed;
        }
      } else {
        const batch = outstanding.get(message.batch) ?? [];
        outstanding.delete(message.batch);
        scanned = true;
        batch.forEach((index, i) => {
          results[index] = message.results[i]!;
          reading.delete(index);
          hooks.finished(index, message.results[i]!);
        });
        topUp();
      }
    });
    // A worker that fails to load or dies mid-batch: its files go back to this thread, which scans them itself.
    // It is a bug, so it is said on standard error, but it costs the scan nothing but time.
    worker.on("error", (e) => process.emitWarning(`a scan worker thread failed: ${e.message}`));
    worker.on("exit", () => {
      for (const batch of outstanding.values()) queue.handBack(batch);
      outstanding.clear();
      resolve(scanned);
    });
    topUp();
  });
}
