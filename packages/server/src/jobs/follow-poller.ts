import { HubClient, parseTarget, type HubTarget } from "@modelvet/engine";
import type { Kysely } from "kysely";
import type { Logger } from "pino";
import type { Database } from "../db/schema.js";
import type { SecretBox } from "../security/secret-box.js";
import { claimDueModels, noticeCommit, type FollowedModel } from "../store/follow.js";
import { hubTokenOf } from "../store/integrations.js";
import { LeasedTask } from "./leased-task.js";
import type { JobQueue } from "./queue.js";

export interface PollerOptions {
  db: Kysely<Database>;
  box: SecretBox;
  queue: JobQueue;
  log: Logger;
  hubEndpoint: string;
  rulesVersion: string;
  /** A workspace without its own interval polls each followed model this often (jittered ±10 %). */
  intervalSeconds: number;
  /** How often the poller looks for models due. */
  tickMs: number;
  /** Hub requests in flight at once. */
  concurrency: number;
}

/** Most models claimed per tick: the rest wait for the next tick, so one tick's work stays bounded. */
const BATCH = 200;

/**
 * Polls the Hub for the commit of every followed model's revision: one model-info request per model per
 * interval, at most `concurrency` at once, and queues a scan of each new commit. (The Hub's model-info answer
 * carries no validator for conditional requests, so each poll is a plain GET of a small JSON document.)
 */
export class FollowPoller {
  private readonly task: LeasedTask<FollowedModel[]>;

  constructor(private readonly options: PollerOptions) {
    // Claiming a model moves its next poll time on, so another process skips it: that is the lease.
    this.task = new LeasedTask({
      claim: () => claimDueModels(options.db, options.intervalSeconds, BATCH),
      run: (due, signal) => inBatches(due, options.concurrency, (model) => this.check(model), signal),
      lanes: 1,
      idleMs: options.tickMs,
      pace: "tick",
      onError: (e) => options.log.warn({ err: e }, "cannot look for followed models due a poll"),
    });
  }

  start(): void {
    this.task.start();
  }

  stop(): Promise<void> {
    return this.task.stop();
  }

  private async check(model: FollowedModel): Promise<void> {
    const { db, box, log } = this.options;
    try {
      const token = model.integration_id ? await hubTokenOf(db, box, model.integration_id) : undefined;
      const hub = new HubClient({ endpoint: this.options.hubEndpoint, token: token?.token });
      const sha = await hub.resolveRevision(hubTarget(model.model_uri, model.revision));
      const { queue, rulesVersion } = this.options;
      const id = await noticeCommit(db, queue, model, sha, "new commit (polling)", rulesVersion, "baseline");
      if (id) log.info({ model_id: model.id, commit: sha, file_scan_id: id }, "followed model has a new commit");
    } catch (e) {
      // The next interval tries again; a repo that went private or away must not stop the others.
      log.warn({ model_id: model.id, err: (e as Error).message }, "cannot poll a followed model");
    }
  }
}

export function hubTarget(modelUri: string, revision: string): HubTarget {
  const target = parseTarget(`hf://${modelUri}`, { revision });
  if (target.kind !== "hub") throw new Error(`not a Hub model: ${modelUri}`);
  return target;
}

/** Runs `fn` over `items`, `width` at a time. */
async function inBatches<T>(
  items: T[],
  width: number,
  fn: (item: T) => Promise<void>,
  signal: AbortSignal,
): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length && !signal.aborted) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.max(1, width) }, lane));
}
