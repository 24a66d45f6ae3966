import PgBoss from "pg-boss";
import type { Logger } from "pino";
import { type JobHandler, type JobQueue } from "./queue.js";

const QUEUE = "modelvet-file-scans";

export interface PgBossQueueOptions {
  connectionString: string;
  /** An active job not finished within this time is failed by pg-boss and retried (its worker died). */
  expireInSeconds: number;
  /** How often pg-boss looks for expired jobs. */
  maintenanceSeconds: number;
  pollMs: number;
  log: Logger;
}

/**
 * Scale-out queue on PostgreSQL. Any number of `modelvet serve` processes send jobs and any number of `modelvet
 * worker` processes (on any machine) work them. A worker killed mid-scan loses no job: pg-boss expires the job
 * after `expireInSeconds` and hands it to another worker (retryLimit).
 */
export class PgBossQueue implements JobQueue {
  readonly kind = "pg-boss";
  private readonly stopper = new AbortController();

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
    return new PgBossQueue(boss, options);
  }

  async enqueue(id: string): Promise<void> {
    await this.boss.send(QUEUE, { fileScanId: id }, { expireInSeconds: this.options.expireInSeconds });
  }

  async work(handler: JobHandler, concurrency: number): Promise<void> {
    // pg-boss 10 has no team size: each work() call is one consumer fetching one job at a time.
    const pollingIntervalSeconds = Math.max(0.5, this.options.pollMs / 1000);
    for (let slot = 0; slot < concurrency; slot++) {
      await this.boss.work<{ fileScanId: string }>(QUEUE, { batchSize: 1, pollingIntervalSeconds }, async (jobs) => {
        for (const job of jobs) await handler({ id: job.data.fileScanId }, this.stopper.signal);
      });
    }
  }

  /** Running scans are stopped; their handlers throw JobAbortedError, so pg-boss marks them for retry. */
  async stop(): Promise<void> {
    this.stopper.abort();
    await this.boss.stop({ graceful: true, wait: true, timeout: 15_000 });
  }
}
