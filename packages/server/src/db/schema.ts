import type { WebhookEventName } from "@modelvet/schema";

/**
 * The tables, in portable column types only (text ids, ISO text timestamps, JSON as text, integers), so one set
 * of migrations and queries serves SQLite and PostgreSQL.
 */
export interface Database {
  workspaces: WorkspaceTable;
  api_keys: ApiKeyTable;
  projects: ProjectTable;
  integrations: IntegrationTable;
  models: ModelTable;
  file_scans: FileScanTable;
  file_scan_inventories: InventoryTable;
  jobs: JobTable;
  file_scan_attempts: AttemptTable;
  hook_deliveries: HookDeliveryTable;
  workspace_rules: WorkspaceRulesTable;
  webhooks: WebhookTable;
  webhook_deliveries: WebhookDeliveryTable;
  webhook_attempts: WebhookAttemptTable;
}

/** An outbound webhook of a workspace: events are POSTed to `url`, signed with the secret. */
export interface WebhookTable {
  id: string;
  workspace_id: string;
  url: string;
  /** Sealed (SecretBox, the row id as additional data); never returned. */
  secret: string;
  description: string;
  created_at: string;
  /** The API key id that created it. */
  created_by: string;
}

/** One event for one webhook, from queued to delivered or given up. */
export interface WebhookDeliveryTable {
  id: string;
  webhook_id: string;
  workspace_id: string;
  event: WebhookEventName;
  /** What makes the event unique for its webhook (the file scan and event), so it is queued once. */
  event_key: string;
  /** The JSON body sent (signed afresh at every attempt, with that attempt's timestamp). */
  payload: string;
  /** pending: waiting for its next attempt; delivering: claimed; delivered; failed: given up. */
  state: "pending" | "delivering" | "delivered" | "failed";
  attempts: number;
  next_attempt_at: string;
  lease_owner: string | null;
  lease_expires_at: string | null;
  /** The receiver's HTTP status at the last attempt (null: no answer). */
  last_status: number | null;
  last_error: string | null;
  created_at: string;
  updated_at: string;
  delivered_at: string | null;
}

/** One attempt of a delivery: when, the receiver's status, or why there was none. */
export interface WebhookAttemptTable {
  delivery_id: string;
  attempt: number;
  started_at: string;
  finished_at: string;
  status_code: number | null;
  error: string | null;
}

/** One version of a workspace's custom rules (a `--rules` file as JSON text; null: cleared). */
export interface WorkspaceRulesTable {
  workspace_id: string;
  version: number;
  rules: string | null;
  created_at: string;
  /** The API key id that made the change. */
  created_by: string;
}

/** A Hub webhook delivery already acted on (repeated deliveries queue nothing). */
export interface HookDeliveryTable {
  workspace_id: string;
  delivery_id: string;
  received_at: string;
}

export interface WorkspaceTable {
  id: string;
  name: string;
  created_at: string;
  /** How often followed models are polled; null: the server's MODELVET_FOLLOW_INTERVAL_SECONDS. */
  poll_interval_seconds: number | null;
  /** Sealed (SecretBox) secret a Hub webhook must send as X-Webhook-Secret; null: webhooks refused. */
  hook_secret: string | null;
}

export interface ApiKeyTable {
  id: string;
  /** null for an admin key. */
  workspace_id: string | null;
  name: string;
  /** Hex SHA-256 of the key; the key itself is never stored. */
  key_hash: string;
  /** The key's first characters, to tell keys apart in a list; null for keys made before it was kept. */
  prefix: string | null;
  created_at: string;
}

export interface ProjectTable {
  id: string;
  workspace_id: string;
  name: string;
  description: string;
  created_at: string;
}

export interface IntegrationTable {
  id: string;
  workspace_id: string;
  name: string;
  integration_type: string;
  /** JSON: StoredField[] (SECRET values encrypted). */
  fields: string;
  created_at: string;
}

export interface ModelTable {
  id: string;
  project_id: string;
  workspace_id: string;
  name: string;
  model_uri: string;
  revision: string;
  integration_id: string | null;
  /** The newest file scan started for the model. */
  latest_file_scan_id: string | null;
  created_at: string;
  /** Set when the model was deleted but its scan history kept; such a model is hidden everywhere. */
  deleted_at: string | null;
  /** 1: new commits of its branch or tag are scanned (polling and Hub webhooks); 0: pinned. */
  follow: number;
  /** When the poller next asks the Hub for the revision's commit (claimed by one process at a time). */
  next_poll_at: string | null;
  /** The newest commit of the revision this service has queued a scan of. */
  last_seen_sha: string | null;
}

export interface FileScanTable {
  id: string;
  model_id: string;
  project_id: string;
  workspace_id: string;
  status: "queued" | "running" | "succeeded" | "failed";
  files_done: number;
  files_total: number;
  /** bigint on PostgreSQL (comes back as a string there). */
  bytes_read: number | string;
  error: string | null;
  ram_request_megabytes: number | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  severity: number | null;
  rules_version: string | null;
  commit_sha: string | null;
  /** JSON: the engine's ScanReport. */
  result: string | null;
  /** Which worker ran the scan last (host:pid:slot); internal, not in the API. */
  worker: string | null;
  attempts: number;
  /** Scan processes of this scan that died abnormally (out of memory, signal). */
  crashes: number;
  crash_cause: string | null;
  /** The memory limit of the one retry after a scan ran out of memory. */
  retry_ram_megabytes: number | null;
  heartbeat_at: string | null;
  /** pg-boss job id of the running attempt (the reaper fails it when the heartbeat stops). */
  queue_job_id: string | null;
  /** The commit to scan (a followed model's new commit); null: the model's revision as it is when the scan runs. */
  revision: string | null;
  /** Why the scan ran: null for a requested one, "new commit (polling)", "new commit (webhook)". */
  reason: string | null;
}

/** One start of a scan: which worker, when, and how it ended (null while running or when its worker died). */
export interface AttemptTable {
  file_scan_id: string;
  attempt: number;
  worker: string;
  started_at: string;
  finished_at: string | null;
  outcome: string | null;
}

export interface InventoryTable {
  file_scan_id: string;
  /** JSON: FileInventory[], kept so a new rules pack can re-judge without reading the model. */
  inventories: string;
}

/** The embedded queue's durable jobs (pg-boss keeps its own tables). */
export interface JobTable {
  id: string;
  state: "queued" | "active";
  attempts: number;
  lease_owner: string | null;
  lease_expires_at: string | null;
  created_at: string;
}
