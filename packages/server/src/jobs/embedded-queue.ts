import { sql, type Expression, type ExpressionBuilder, type Kysely, type SqlBool } from "kysely";
import type { Logger } from "pino";
import type { Database } from "../db/schema.js";
import { LeasedTask } from "./leased-task.js";
import { JobAbortedError, sleep, type JobHandler, type JobQueue } from "./queue.js";

export interface EmbeddedQueueOptions {
  /** Who holds a claimed job (host:pid:random), so only the holder renews or finishes it. */
  owner: string;
  /** A claimed job whose lease is not renewed within this time is claimed again (its process died). */
  leaseMs: number;
  pollMs: number;
  log: Logger;
}

/**
 * Durable jobs in the `jobs` table. A worker claims the oldest claimable job with one `UPDATE … RETURNING`
 * (atomic on SQLite's single writer; on PostgreSQL the row lock re-checks the condition), renews its lease while
 * the job runs, and deletes the row when the job is finished. A job whose process died keeps an expiring lease
 * and is claimed again once it expires: a restart loses no job.
 */
export class EmbeddedQueue implements JobQueue {
  readonly kind = "embedded";
  private readonly tasks: Array<LeasedTask<string>> = [];
  /** Idle claim loops waiting for a job; at most one entry per loop. */
  private readonly waiters = new Set<() => void>();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly options: EmbeddedQueueOptions,
  ) {}

  async enqueue(id: string): Promise<void> {
    await this.db
      .insertInto("jobs")
      .values({
        id,
        state: "queued",
        attempts: 0,
        lease_owner: null,
        lease_expires_at: null,
        created_at: new Date().toISOString(),
      })
      .execute();
    // Wake idle consumers of this process at once; other processes find it on their next poll.
    for (const wake of [...this.waiters]) wake();
  }

  work(handler: JobHandler, concurrency: number): Promise<void> {
    const task = new LeasedTask({
      claim: () => this.claim(),
      run: (id, signal) => this.runClaimed(id, handler, signal),
      lanes: concurrency,
      idleMs: this.options.pollMs,
      wait: (signal) => this.idle(signal),
      onError: (e) => this.options.log.error({ err: e }, "cannot claim a job"),
    });
    this.tasks.push(task);
    task.start();
    return Promise.resolve();
  }

  async stop(): Promise<void> {
    await Promise.allSettled(this.tasks.map((task) => task.stop()));
  }

  /** Waits for the next poll, or less when a job is enqueued in this process. */
  private idle(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        this.waiters.delete(wake);
        resolve();
      };
      this.waiters.add(wake);
      void sleep(this.options.pollMs, signal).then(wake);
    });
  }

  private async runClaimed(id: string, handler: JobHandler, signal: AbortSignal): Promise<void> {
    const heartbeat = setInterval(() => void this.renew(id), Math.max(100, Math.floor(this.options.leaseMs / 3)));
    try {
      await handler({ id }, signal);
      await this.db.deleteFrom("jobs").where("id", "=", id).where("lease_owner", "=", this.options.owner).execute();
    } catch (e) {
      if (e instanceof JobAbortedError) await this.release(id).catch(() => undefined);
      // Any other failure keeps the lease: it expires and the job runs again later (no tight retry loop).
      else this.options.log.error({ err: e, job_id: id }, "job failed unexpectedly; it will run again");
    } finally {
      clearInterval(heartbeat);
    }
  }

  private async claim(): Promise<string | undefined> {
    const now = new Date().toISOString();
    const claimable = (eb: ExpressionBuilder<Database, "jobs">): Expression<SqlBool> =>
      eb.or([eb("state", "=", "queued"), eb.and([eb("state", "=", "active"), eb("lease_expires_at", "<", now)])]);
    const row = await this.db
      .updateTable("jobs")
      .set({
        state: "active",
        lease_owner: this.options.owner,
        lease_expires_at: this.leaseEnd(),
        attempts: sql<number>`attempts + 1`,
      })
      .where("id", "=", (eb) => eb.selectFrom("jobs").select("id").where(claimable).orderBy("created_at").limit(1))
      .where(claimable)
      .returning("id")
      .executeTakeFirst();
    return row?.id;
  }

  private async renew(id: string): Promise<void> {
    await this.db
      .updateTable("jobs")
      .set({ lease_expires_at: this.leaseEnd() })
      .where("id", "=", id)
      .where("lease_owner", "=", this.options.owner)
      .execute()
      .catch((e: unknown) => this.options.log.warn({ err: e, job_id: id }, "cannot renew a job lease"));
  }

  /** Hands a job back at shutdown so the next process starts it at once instead of waiting for the lease. */
  private async release(id: string): Promise<void> {
    await this.db
      .updateTable("jobs")
      .set({ state: "queued", lease_owner: null, lease_expires_at: null })
      .where("id", "=", id)
      .where("lease_owner", "=", this.options.owner)
      .execute();
  }

  private leaseEnd(): string {
    return new Date(Date.now() + this.options.leaseMs).toISOString();
  }
}
