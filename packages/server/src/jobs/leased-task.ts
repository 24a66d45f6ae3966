import { sleep } from "./queue.js";

export interface LeasedTaskOptions<T> {
  /**
   * Claims the next piece of work under a lease held in the database, so no other process takes it meanwhile;
   * undefined when nothing is due.
   */
  claim: () => Promise<T | undefined>;
  /** Does one claimed piece of work; `signal` aborts when the task stops. */
  run: (work: T, signal: AbortSignal) => Promise<void>;
  /** Pieces of work running at once in this process (claims stop while all are busy). */
  lanes: number;
  /** The wait before claiming again after a claim found nothing (and after each tick when `pace` is "tick"). */
  idleMs: number;
  /**
   * "when-idle": claim again at once after a claim found work (drains a backlog), wait only when none was due.
   * "tick": after each claim, wait for its work to finish and then for idleMs, whatever was found.
   */
  pace?: "when-idle" | "tick";
  /** Replaces the plain idleMs sleep (the job queue also wakes when a job is enqueued in this process). */
  wait?: (signal: AbortSignal) => Promise<void>;
  /** A failed claim or run: logged, and the task carries on. */
  onError: (error: unknown) => void;
}

/**
 * A periodic task over database-leased work: one loop per process claims work while a lane is free and runs
 * each piece beside the others, up to `lanes` at once. Only the claim touches the lease, so the claim decides
 * that two processes never hold the same piece; a claim that finds nothing waits before the next one, so an
 * idle process asks the database once per idleMs whatever its lane count.
 */
export class LeasedTask<T> {
  private readonly stopper = new AbortController();
  private loop?: Promise<void>;

  constructor(private readonly options: LeasedTaskOptions<T>) {}

  start(): void {
    this.loop ??= this.claimLoop();
  }

  /** Stops claiming and waits for the work in hand to finish (each run sees the aborted signal). */
  async stop(): Promise<void> {
    this.stopper.abort();
    await this.loop;
  }

  private async claimLoop(): Promise<void> {
    const { signal } = this.stopper;
    const { lanes, pace = "when-idle" } = this.options;
    const running = new Set<Promise<void>>();
    while (!signal.aborted) {
      if (running.size >= Math.max(1, lanes)) {
        await Promise.race(running);
        continue;
      }
      const work = await this.claim();
      // Work claimed as the task stops still runs (it sees the aborted signal): its lease is not left to lapse.
      if (work !== undefined) this.spawn(work, running);
      if (pace === "tick") await Promise.allSettled(running);
      if (work === undefined || pace === "tick") await this.idle(signal);
    }
    await Promise.allSettled(running);
  }

  private async claim(): Promise<T | undefined> {
    try {
      return await this.options.claim();
    } catch (e) {
      this.options.onError(e);
      return undefined;
    }
  }

  private spawn(work: T, running: Set<Promise<void>>): void {
    const done: Promise<void> = this.options
      .run(work, this.stopper.signal)
      .catch((e: unknown) => this.options.onError(e))
      .finally(() => running.delete(done));
    running.add(done);
  }

  private idle(signal: AbortSignal): Promise<void> {
    return this.options.wait ? this.options.wait(signal) : sleep(this.options.idleMs, signal);
  }
}
