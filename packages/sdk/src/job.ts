import { ModelvetError, ModelvetTimeoutError } from "./errors.js";
import type { FileScan } from "./types.js";

export interface GetStatusOptions {
  /** Also return the full report under `result` (once the scan has succeeded). */
  verbose?: boolean;
  /** Poll until the status is `succeeded` or `failed`. A failed scan is returned, not thrown: `error` says why. */
  waitUntilFinish?: boolean;
  /** Seconds between polls (default 2). */
  pollRateSec?: number;
  /** Longest wait in seconds (default 3600; `null` waits without limit), then ModelvetTimeoutError. */
  timeoutSec?: number | null;
}

/** What a job needs from the client; keeps job.ts free of a cycle with client.ts. */
export interface FileScanReader {
  readFileScan(fileScanId: string, verbose: boolean): Promise<FileScan>;
}

const FINISHED = new Set(["succeeded", "failed"]);
// Answers worth waiting through while polling: the server restarting (its jobs survive) or a proxy hiccup.
const TRANSIENT = new Set([undefined, 502, 503, 504]);
const MAX_TRANSIENT_IN_A_ROW = 5;

/** The job of one file scan. `job_id` and `file_scan_id` are the same id. `started` is the scan as first queued. */
export class FileScanJob {
  readonly job_id: string;
  readonly file_scan_id: string;
  readonly #reader: FileScanReader;

  constructor(
    reader: FileScanReader,
    readonly started: FileScan,
  ) {
    this.#reader = reader;
    this.job_id = started.job_id;
    this.file_scan_id = started.file_scan_id ?? started.job_id;
  }

  /** The scan's status: `status`, `progress`, `error`, `severity`, … (see GetStatusOptions). */
  async getStatus(options: GetStatusOptions = {}): Promise<FileScan> {
    const { verbose = false, waitUntilFinish = false, pollRateSec = 2, timeoutSec = 3600 } = options;
    if (!(pollRateSec > 0)) throw new TypeError("pollRateSec must be positive");
    const deadline = timeoutSec === null ? Infinity : Date.now() + timeoutSec * 1000;
    let transient = 0;
    for (;;) {
      let status: FileScan | undefined;
      try {
        status = await this.#reader.readFileScan(this.job_id, verbose);
        transient = 0;
      } catch (e) {
        // status undefined = unreachable or timed out; a 4xx is an answer, never retried.
        const retry = e instanceof ModelvetError && TRANSIENT.has(e.status) && transient < MAX_TRANSIENT_IN_A_ROW;
        if (!waitUntilFinish || !retry) throw e;
        transient++;
      }
      if (status && (!waitUntilFinish || FINISHED.has(status.status))) return status;
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw new ModelvetTimeoutError(
          `file scan ${this.job_id} did not finish within ${timeoutSec} s (last status: ${status?.status ?? "unknown"}); ` +
            "call getStatus({ waitUntilFinish: true }) again to keep waiting",
        );
      }
      // The last sleep is cut short so the final poll lands on the deadline, not after it.
      await new Promise((resolve) => setTimeout(resolve, Math.min(pollRateSec * 1000, remaining)));
    }
  }
}
