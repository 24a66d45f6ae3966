import type { Kysely } from "kysely";
import PgBoss from "pg-boss";
import type { Logger } from "pino";
import type { Database } from "../db/schema.js";
import { reclaimStale } from "../store/scan-jobs.js";
import { sleep, type JobHandler, type JobQueue } from "./queue.js";

const QUEUE = "modelvet-file-scans";

export interface PgBossQueueOptions {
  connectionString: string;
  db: Kysely<Database>;
  /** A running scan whose heartbeat is older than this is handed to another worker (its worker died). */
  leaseMs: number;
  /** Backstop only: an active job not finished within this time is failed by pg-boss and retried. */
  expireInSeconds: number;
  /** How often pg-boss looks for expired jobs. */
  maintenanceSeconds: number;
  pollMs: number;
  log: Logger;
}

/**
 * Scale-out queue on PostgreSQL. Any number of `modelvet serve` processes send jobs and any number of `modelvet
 * worker` processes (on any machine) work them. pg-boss 10 has no job heartbeat (an active job is retried only
 * when it expires, and a scan may legitimately run for MODELVET_JOB_TIMEOUT_SECONDS), so the worker renews the
 * scan's `heartbeat_at` every leaseMs/3 and every process runs a reaper: a running scan whose heartbeat is older
 * than leaseMs is set back to queued and its pg-boss job failed, which pg-boss retries after retryDelay.
 */
export class PgBossQueue implements JobQueue {
  readonly kind = "pg-boss";
  private readonly stopper = new AbortController();
  private reaper?: Promise<void>;

  private constructor(
    private readonly boss: PgBoss,
    private readonly options: PgBossQueueOptions,
  ) {}

  static async open(options: PgBossQueueOptions): Promise<PgBossQueue> {
    const boss = new PgBoss({
      connectionString: options.connectionString,
      max: 4,
      schedule: false,
      maintenanceIntervalSeconds: options.maintenanceSeconds,
      monitorStateIntervalSeconds: Math.max(60, options.maintenanceSeconds),
    });
    // pg-boss reports connection trouble as events; without a listener they would crash the process.
    boss.on("error", (e) => options.log.error({ err: e }, "job queue error"));
    await boss.start();
    if (!(await boss.getQueue(QUEUE))) {
      await boss
        .createQueue(QUEUE, {
          name: QUEUE,
          policy: "standard",
          // A scan that keeps killing its worker stops being retried; ScanRunner also gives up after a few starts.
          retryLimit: 8,
          retryDelay: 1,
          expireInSeconds: options.expireInSeconds,
        })
        .catch((e: unknown) => {
          // Another process created it at the same moment.
          if (!/already exists/i.test((e as Error).message)) throw e;
        });
    }
    const queue = new PgBossQueue(boss, options);
    queue.reaper = queue.reap();
    return queue;
  }

  /** Hands the jobs of dead workers back to pg-boss; see the class comment. */
  private async reap(): Promise<void> {
    const every = Math.max(200, Math.floor(this.options.leaseMs / 3));
    while (!this.stopper.signal.aborted) {
      await sleep(every, this.stopper.signal);
      if (this.stopper.signal.aborted) break;
      try {
        const cutoff = new Date(Date.now() - this.options.leaseMs).toISOString();
        for (const { id, jobId } of await reclaimStale(this.options.db, cutoff)) {
          this.options.log.warn({ file_scan_id: id }, "a worker stopped renewing its scan; it runs again elsewhere");
          await this.boss.fail(QUEUE, jobId, { reason: "its worker stopped renewing the heartbeat" });
        }
      } catch (e) {
        this.options.log.warn({ err: e }, "cannot look for scans of dead workers");
      }
    }
  }

  async enqueue(id: string): Promise<void> {
    await this.boss.send(QUEUE, { fileScanId: id }, { expireInSeconds: this.options.expireInSeconds });
  }

  async work(handler: JobHandler, concurrency: number): Promise<void> {
    // pg-boss 10 has no team size: each work() call is one consumer fetching one job at a time.
    const pollingIntervalSeconds = Math.max(0.5, this.options.pollMs / 1000);
    for (let slot = 0; slot < concurrency; slot++) {
      await this.boss.work<{ fileScanId: string }>(QUEUE, { batchSize: 1, pollingIntervalSeconds }, async (jobs) => {
        for (const job of jobs) await handler({ id: job.data.fileScanId, queueJobId: job.id }, this.stopper.signal);
      });
    }
  }

  /** Running scans are stopped; their handlers throw JobAbortedError, so pg-boss marks them for retry. */
  async stop(): Promise<void> {
    this.stopper.abort();
    await this.reaper;
    await this.boss.stop({ graceful: true, wait: true, timeout: 15_000 });
  }
}
