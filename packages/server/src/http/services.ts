import type { Classifier } from "@modelvet/engine";
import type { Kysely } from "kysely";
import type { Database } from "../db/schema.js";
import type { JobQueue } from "../jobs/queue.js";
import type { SecretBox } from "../security/secret-box.js";

/** What the routes use. */
export interface Services {
  db: Kysely<Database>;
  box: SecretBox;
  queue: JobQueue;
  /** The current rules pack: stored results judged by another version are `rules_outdated`. */
  classifier: Classifier;
  /** MODELVET_MAX_SCAN_MEMORY_MB: a scan asking for more is refused. */
  maxScanMemoryMegabytes: number;
  /** The Hub scans read from (HF_ENDPOINT): the web UI links each scanned file there. */
  hubEndpoint?: string;
  /** MODELVET_FOLLOW_INTERVAL_SECONDS: how often followed models are polled where a workspace sets nothing. */
  followIntervalSeconds?: number;
  /** MODELVET_PUBLIC_URL: webhook events link to the model page there. */
  publicUrl?: string;
  /** MODELVET_WEBHOOKS_ALLOW_PRIVATE=1: webhooks may target private and loopback addresses. */
  webhooksAllowPrivate?: boolean;
}
