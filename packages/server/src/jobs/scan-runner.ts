import { Worker } from "node:worker_threads";
import type { Kysely } from "kysely";
import type { Logger } from "pino";
import type { Database } from "../db/schema.js";
import type { SecretBox } from "../security/secret-box.js";
import { hubTokenOf } from "../store/integrations.js";
import {
  loadScanJob,
  markQueued,
  markRunning,
  saveFailure,
  saveProgress,
  saveResult,
  type ScanJob,
} from "../store/scan-jobs.js";
import { JobAbortedError, type Job } from "./queue.js";
import type { ThreadInput, ThreadMessage } from "./scan-thread.js";

export interface RunnerOptions {
  db: Kysely<Database>;
  box: SecretBox;
  log: Logger;
  hubEndpoint: string;
  cacheDir: string | false;
  defaultRamMegabytes: number;
  jobTimeoutSeconds: number;
  /** Names this process in the scan row (which worker ran it). */
  workerName: string;
}

/** Starts beyond this mean the scan kills its worker every time (e.g. the process runs out of memory). */
const MAX_STARTS = 5;
/** Progress is written to the database at most this often. */
const PROGRESS_WRITE_MS = 1000;

const THREAD_URL = new URL("./scan-thread.js", import.meta.url);

/** Runs file-scan jobs: loads the model and its token, scans in a worker thread, stores result or reason. */
export class ScanRunner {
  constructor(private readonly options: RunnerOptions) {}

  readonly handle = async (job: Job, signal: AbortSignal): Promise<void> => {
    const { db, log } = this.options;
    const scan = await loadScanJob(db, job.id);
    // Gone, or already finished by an earlier delivery of the same job.
    if (!scan || scan.status === "succeeded" || scan.status === "failed") return;
    if (scan.attempts >= MAX_STARTS) {
      await saveFailure(
        db,
        scan.id,
        `the scan was started ${scan.attempts} times and its worker stopped each time (killed or out of memory); start it again with a larger ram_request_megabytes, or check the worker's log`,
      );
      return;
    }
    await markRunning(db, scan.id, this.options.workerName);
    log.info({ file_scan_id: scan.id, model_uri: scan.modelUri, revision: scan.revision }, "scan started");
    const token = await this.tokenFor(scan);
    if (token === false) return;
    const outcome = await this.runThread(scan, token, signal).catch(async (e: unknown) => {
      if (e instanceof JobAbortedError) await markQueued(db, scan.id).catch(() => undefined);
      throw e;
    });
    if (outcome.type === "done") {
      await saveResult(db, scan.id, outcome.report, outcome.inventories);
      log.info({ file_scan_id: scan.id, severity: outcome.report.severity }, "scan succeeded");
    } else {
      await saveFailure(db, scan.id, outcome.message);
      log.info({ file_scan_id: scan.id, reason: outcome.message }, "scan failed");
    }
  };

  /** The integration's Hub token; false after recording why there is none to use. */
  private async tokenFor(scan: ScanJob): Promise<string | undefined | false> {
    if (!scan.integrationId) return undefined;
    try {
      const token = await hubTokenOf(this.options.db, this.options.box, scan.integrationId);
      if (token !== undefined) return token;
      await saveFailure(
        this.options.db,
        scan.id,
        `integration ${scan.integrationId} has no HUGGINGFACE_API_TOKEN (or HF_TOKEN) field; add one holding the Hub token`,
      );
    } catch (e) {
      await saveFailure(
        this.options.db,
        scan.id,
        `cannot decrypt the secrets of integration ${scan.integrationId}: ${(e as Error).message}`,
      );
    }
    return false;
  }

  /** Scans in a worker thread capped at the requested heap; resolves with the result or a reason. */
  private runThread(
    scan: ScanJob,
    token: string | undefined,
    signal: AbortSignal,
  ): Promise<Extract<ThreadMessage, { type: "done" }> | { type: "failed"; message: string }> {
    const ram = scan.ramMegabytes ?? this.options.defaultRamMegabytes;
    const input: ThreadInput = {
      target: `hf://${scan.modelUri}`,
      revision: scan.revision,
      endpoint: this.options.hubEndpoint,
      cacheDir: this.options.cacheDir,
      ...(token !== undefined ? { token } : {}),
    };
    const worker = new Worker(THREAD_URL, { workerData: input, resourceLimits: { maxOldGenerationSizeMb: ram } });
    const progress = new ProgressWriter(this.options.db, scan.id);
    return new Promise((resolve, reject) => {
      let settled = false;
      const finish = (action: () => void): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        void worker.terminate();
        void progress.flush().finally(action);
      };
      const timer = setTimeout(
        () =>
          finish(() =>
            resolve({
              type: "failed",
              message: `the scan took longer than ${this.options.jobTimeoutSeconds} s (MODELVET_JOB_TIMEOUT_SECONDS); scan a smaller model or raise the limit`,
            }),
          ),
        this.options.jobTimeoutSeconds * 1000,
      );
      const onAbort = (): void => finish(() => reject(new JobAbortedError()));
      if (signal.aborted) return onAbort();
      signal.addEventListener("abort", onAbort, { once: true });
      worker.on("message", (message: ThreadMessage) => {
        if (message.type === "progress") progress.update(message);
        else if (message.type === "done") finish(() => resolve(message));
        else finish(() => resolve({ type: "failed", message: explainFailure(message.message, message.actionable) }));
      });
      worker.on("error", (e: Error & { code?: string }) => {
        const message =
          e.code === "ERR_WORKER_OUT_OF_MEMORY"
            ? `the scan needed more than ${ram} MB (ram_request_megabytes); start it again with a larger ram_request_megabytes`
            : `the scan stopped with an internal error: ${e.message}`;
        finish(() => resolve({ type: "failed", message }));
      });
      worker.on("exit", (code) =>
        finish(() =>
          resolve({ type: "failed", message: `the scan's worker stopped unexpectedly (exit code ${code})` }),
        ),
      );
    });
  }
}

/**
 * Engine messages are written for the CLI ("set HF_TOKEN (or --token)"); in the service the token comes from
 * the model's integration, so say that instead.
 */
export function explainFailure(message: string, actionable: boolean): string {
  const service = message
    .replace(
      "set HF_TOKEN (or --token) if it is private or gated",
      "if it is private or gated, register the model with an integration holding a HUGGINGFACE_API_TOKEN",
    )
    .replace("the token given has no access to it", "the integration's HUGGINGFACE_API_TOKEN has no access to it");
  return actionable ? service : `the scan failed: ${service}`;
}

/** Coalesces progress messages into at most one database write per PROGRESS_WRITE_MS. */
class ProgressWriter {
  private latest?: { filesDone: number; filesTotal: number; bytesRead: number };
  private written = 0;
  private pending: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly id: string,
  ) {}

  update(progress: { filesDone: number; filesTotal: number; bytesRead: number }): void {
    this.latest = { filesDone: progress.filesDone, filesTotal: progress.filesTotal, bytesRead: progress.bytesRead };
    if (Date.now() - this.written >= PROGRESS_WRITE_MS) void this.flush();
  }

  flush(): Promise<void> {
    const latest = this.latest;
    if (!latest) return this.pending;
    this.latest = undefined;
    this.written = Date.now();
    // Chained so writes land in order; a failed progress write is not worth failing the scan for.
    this.pending = this.pending.then(() => saveProgress(this.db, this.id, latest).catch(() => undefined));
    return this.pending;
  }
}
