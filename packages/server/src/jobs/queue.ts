/** A job delivered to a worker: the file scan id (a file scan is its job) and how many times it was started. */
export interface Job {
  id: string;
  /** The queue's own id of this delivery, where it differs (pg-boss). */
  queueJobId?: string;
}

/**
 * Runs one job. Resolves when the job is finished for good (succeeded, or failed with a recorded reason);
 * rejects when it should be run again (the process is stopping, or an unexpected error).
 */
export type JobHandler = (job: Job, signal: AbortSignal) => Promise<void>;

/** The one queue interface: the embedded jobs table (SQLite) and pg-boss (PostgreSQL scale-out) implement it. */
export interface JobQueue {
  readonly kind: "embedded" | "pg-boss";
  /** Adds a job; it survives restarts. */
  enqueue(id: string): Promise<void>;
  /** Starts `concurrency` consumers in this process. */
  work(handler: JobHandler, concurrency: number): Promise<void>;
  /** Stops consuming; jobs running here are handed back to the queue to run again. */
  stop(): Promise<void>;
}

export class JobAbortedError extends Error {
  constructor() {
    super("the job was stopped because the process is shutting down; it will run again");
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
  });
}
