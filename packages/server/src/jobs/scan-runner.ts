import { loadClassifier, rejudgeReport, type Classifier } from "@modelvet/engine";
import type { Kysely } from "kysely";
import type { Logger } from "pino";
import type { Database } from "../db/schema.js";
import type { SecretBox } from "../security/secret-box.js";
import { hubTokenOf } from "../store/integrations.js";
import { noticeResult } from "../store/webhook-events.js";
import { classifierFor } from "../store/workspace-rules.js";
import {
  heartbeat,
  loadScanJob,
  markQueued,
  markRunning,
  recordCrash,
  saveFailure,
  saveProgress,
  saveResult,
  type ScanJob,
} from "../store/scan-jobs.js";
import { MemoryBudget } from "./memory-budget.js";
import { JobAbortedError, type Job } from "./queue.js";
import type { ScanInput } from "./scan-process.js";
import { scanInChild, type ScanOutcome } from "./scan-supervisor.js";

export interface RunnerOptions {
  db: Kysely<Database>;
  box: SecretBox;
  log: Logger;
  hubEndpoint: string;
  cacheDir: string | false;
  defaultRamMegabytes: number;
  /** The sum of the running scans' memory limits in this process never exceeds this. */
  maxScanMemoryMegabytes: number;
  jobTimeoutSeconds: number;
  /** Names this process in the scan row (which worker ran it). */
  workerName: string;
  /** How often a running scan's heartbeat is renewed (the scale-out reaper takes over stale ones). */
  heartbeatMs: number;
  /** Webhook events link to the model page under this address. */
  publicUrl?: string;
}

/** Starts beyond this mean the scan's worker itself keeps dying (killed from outside; scan processes are counted apart). */
const MAX_STARTS = 5;
/** A scan whose scan process died this often is failed, never started again (poison job). */
const MAX_CRASHES = 2;
/** Progress is written to the database at most this often. */
const PROGRESS_WRITE_MS = 1000;

/** Runs file-scan jobs: loads the model and its token, scans in a child process, stores result or reason. */
export class ScanRunner {
  private readonly budget: MemoryBudget;
  private pack?: Promise<Classifier>;

  constructor(private readonly options: RunnerOptions) {
    this.budget = new MemoryBudget(options.maxScanMemoryMegabytes);
  }

  readonly handle = async (job: Job, signal: AbortSignal): Promise<void> => {
    await this.run(job, signal);
    // Finished for good (or already, at a repeated delivery: the event is queued once either way).
    await noticeResult(this.options.db, job.id, this.options.publicUrl).catch((e: unknown) =>
      this.options.log.warn({ err: e, file_scan_id: job.id }, "cannot queue the webhook event of a scan"),
    );
  };

  private async run(job: Job, signal: AbortSignal): Promise<void> {
    // A further pass only after a scan process died: it retries once, or (refuseStart) fails the scan for good.
    for (let pass = 0; pass <= MAX_CRASHES; pass++) {
      const scan = await loadScanJob(this.options.db, job.id);
      // Gone, or already finished by an earlier delivery of the same job.
      if (!scan || scan.status === "succeeded" || scan.status === "failed") return;
      if (await this.refuseStart(scan)) return;
      const ram = this.ramFor(scan);
      const release = await this.budget.acquire(ram, signal).catch(() => {
        throw new JobAbortedError();
      });
      try {
        if (!(await this.runAttempt(scan, ram, job.queueJobId ?? null, signal))) return;
      } finally {
        release();
      }
    }
  }

  /** Fails a scan that must not start again; true when it did. */
  private async refuseStart(scan: ScanJob): Promise<boolean> {
    let reason: string | undefined;
    if (scan.crashes >= MAX_CRASHES)
      reason = `its scan process died ${scan.crashes} times (last: ${scan.crashCause ?? "unknown"}); it is not started again`;
    else if (scan.crashes > 0 && scan.crashCause?.startsWith("scan exceeded") && scan.retryRamMegabytes === null)
      reason = `${scan.crashCause}; no larger limit is allowed here (MODELVET_MAX_SCAN_MEMORY_MB ${this.options.maxScanMemoryMegabytes})`;
    else if (scan.attempts >= MAX_STARTS)
      reason = `the scan was started ${scan.attempts} times and its worker stopped each time (killed from outside); check the worker's log`;
    if (!reason) return false;
    await saveFailure(this.options.db, scan.id, reason);
    this.options.log.info({ file_scan_id: scan.id, reason }, "scan failed");
    return true;
  }

  private ramFor(scan: ScanJob): number {
    const asked = scan.retryRamMegabytes ?? scan.ramMegabytes ?? this.options.defaultRamMegabytes;
    return Math.min(asked, this.options.maxScanMemoryMegabytes);
  }

  /** One start of the scan; true when its process died and the caller should look at the scan again. */
  private async runAttempt(
    scan: ScanJob,
    ram: number,
    queueJobId: string | null,
    signal: AbortSignal,
  ): Promise<boolean> {
    const { db, log, workerName } = this.options;
    const attempt = await markRunning(db, scan.id, workerName, queueJobId);
    log.info(
      { file_scan_id: scan.id, model_uri: scan.modelUri, revision: scan.revision, ram, attempt },
      "scan started",
    );
    const beat = setInterval(
      () => void heartbeat(db, scan.id, workerName).catch(() => undefined),
      this.options.heartbeatMs,
    );
    try {
      const token = await this.tokenFor(scan, attempt);
      if (token === false) return false;
      const outcome = await this.scan(scan, ram, token, signal).catch(async (e: unknown) => {
        if (e instanceof JobAbortedError) await markQueued(db, scan.id, attempt).catch(() => undefined);
        throw e;
      });
      return await this.record(scan, ram, attempt, outcome);
    } finally {
      clearInterval(beat);
    }
  }

  private async record(scan: ScanJob, ram: number, attempt: number, outcome: ScanOutcome): Promise<boolean> {
    const { db, log } = this.options;
    if (outcome.type === "done") {
      const report = await this.judgeForWorkspace(scan, outcome);
      await saveResult(db, scan.id, attempt, report, outcome.inventories);
      log.info({ file_scan_id: scan.id, severity: report.severity }, "scan succeeded");
    } else if (outcome.type === "failed") {
      await saveFailure(db, scan.id, outcome.message, attempt);
      log.info({ file_scan_id: scan.id, reason: outcome.message }, "scan failed");
    } else {
      await this.recordCrashed(scan, ram, attempt, outcome);
      return true;
    }
    return false;
  }

  /**
   * The scan process judges with the built-in pack; a workspace with custom rules has its inventories judged
   * again here with the pack plus its rules (nothing is read again).
   */
  private async judgeForWorkspace(scan: ScanJob, outcome: Extract<ScanOutcome, { type: "done" }>) {
    this.pack ??= loadClassifier();
    const classifier = await classifierFor(this.options.db, await this.pack, scan.workspaceId);
    if (classifier.version === outcome.report.rules_version) return outcome.report;
    return rejudgeReport(outcome.report, outcome.inventories, classifier);
  }

  /**
   * A dead scan process is counted before anything else (so a restart sees it). The next pass retries it at most
   * once — with twice the memory when memory was the cause and the limit allows it — or fails it with the reason.
   */
  private async recordCrashed(
    scan: ScanJob,
    ram: number,
    attempt: number,
    outcome: Extract<ScanOutcome, { type: "crashed" }>,
  ): Promise<void> {
    const larger = Math.min(ram * 2, this.options.maxScanMemoryMegabytes);
    const retryRam = outcome.cause === "memory" ? (larger > ram ? larger : null) : ram;
    await recordCrash(this.options.db, scan.id, attempt, outcome.message, retryRam);
    this.options.log.warn({ file_scan_id: scan.id, reason: outcome.message, retry_ram: retryRam }, "scan process died");
  }

  /** The integration's Hub token; false after recording why there is none to use. */
  private async tokenFor(
    scan: ScanJob,
    attempt: number,
  ): Promise<{ field: string; token: string } | undefined | false> {
    if (!scan.integrationId) return undefined;
    try {
      const token = await hubTokenOf(this.options.db, this.options.box, scan.integrationId);
      if (token !== undefined) return token;
      await saveFailure(
        this.options.db,
        scan.id,
        `integration ${scan.integrationId} has no HUGGINGFACE_API_TOKEN (or HF_TOKEN) field; add one holding the Hub token`,
        attempt,
      );
    } catch (e) {
      await saveFailure(
        this.options.db,
        scan.id,
        `cannot decrypt the secrets of integration ${scan.integrationId}: ${(e as Error).message}`,
        attempt,
      );
    }
    return false;
  }

  private async scan(
    scan: ScanJob,
    ram: number,
    token: { field: string; token: string } | undefined,
    signal: AbortSignal,
  ): Promise<ScanOutcome> {
    const input: ScanInput = {
      target: `hf://${scan.modelUri}`,
      revision: scan.revision,
      endpoint: this.options.hubEndpoint,
      cacheDir: this.options.cacheDir,
      ...(token !== undefined ? { token: token.token } : {}),
    };
    const progress = new ProgressWriter(this.options.db, scan.id);
    const limits = { ramMegabytes: ram, timeoutSeconds: this.options.jobTimeoutSeconds };
    try {
      const outcome = await scanInChild(input, limits, signal, (p) => progress.update(p));
      if (outcome.type !== "failed") return outcome;
      return { ...outcome, message: explainFailure(outcome.message, outcome.actionable, token?.field) };
    } finally {
      await progress.flush();
    }
  }
}

/**
 * Engine messages are written for the CLI ("set HF_TOKEN (or --token)"); in the service the token comes from
 * the model's integration, so say that instead.
 */
export function explainFailure(message: string, actionable: boolean, tokenField = "HUGGINGFACE_API_TOKEN"): string {
  const service = message
    .replace(
      "set HF_TOKEN (or --token) if it is private or gated",
      `if it is private or gated, register the model with an integration holding a ${tokenField}`,
    )
    .replace("the token given has no access to it", `the integration's ${tokenField} has no access to it`);
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
