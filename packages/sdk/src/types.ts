/**
 * The objects of the modelvet HTTP API (docs/API.md), field for field as the server sends them (snake_case).
 */

export type Severity = 1 | 2 | 3;
export type SeverityLabel = "Pass" | "Warning" | "Alert";
export type ScanStatus = "queued" | "running" | "succeeded" | "failed";
export type Sensitivity = "SECRET" | "PUBLIC";

export interface Workspace {
  workspace_id: string;
  name: string;
  created_at: string;
}

export interface SeverityCounts {
  pass: number;
  warning: number;
  alert: number;
  unscanned: number;
}

export interface WorkspaceSummary extends Workspace {
  projects: Array<{
    project_id: string;
    name: string;
    description: string | null;
    models: number;
    models_by_severity: SeverityCounts;
  }>;
  integrations: Integration[];
}

export interface ApiKey {
  key_id: string;
  name: string;
  /** Shown only in the answer that created it. */
  api_key: string;
}

export interface IntegrationField {
  name: string;
  sensitivity: Sensitivity;
  /** Present for PUBLIC fields only: SECRET values never leave the server. */
  value?: string;
}

export interface Integration {
  integration_id: string;
  workspace_id: string;
  name: string;
  integration_type: "CUSTOM";
  created_at: string;
  fields: IntegrationField[];
}

export interface Project {
  project_id: string;
  workspace_id: string;
  name: string;
  description: string | null;
  created_at: string;
  models_by_severity?: SeverityCounts;
}

export interface ModelConfig {
  /** `follow`: scan new commits of the branch or tag (default true unless the revision is a commit). */
  hugging_face: { model_uri: string; revision?: string; follow?: boolean };
}

export interface Model {
  model_id: string;
  project_id: string;
  workspace_id: string;
  name: string;
  created_at: string;
  integration_id: string | null;
  /** `follow` is always sent by servers that follow revisions; older ones leave it out. */
  model_config: { hugging_face: { model_uri: string; revision: string; follow?: boolean } };
  latest_file_scan: FileScan | null;
  /** getModel only: the commits scanned, newest first, each with its newest scan's verdict. */
  revisions?: RevisionEntry[];
}

export interface RevisionEntry {
  commit: string;
  file_scan_id: string;
  scanned_at: string;
  status: string;
  severity: 1 | 2 | 3 | null;
  severity_label: "Pass" | "Warning" | "Alert" | null;
  reason: string | null;
  scans: number;
}

/** A workspace's continuous-scanning settings (the webhook secret itself is never returned). */
export interface FollowSettings {
  workspace_id: string;
  poll_interval_seconds: number;
  poll_interval_is_default: boolean;
  hook_secret_set: boolean;
  /** Where to point the Hub webhook, on this server. */
  hook_path: string;
}

/** One version of a workspace's custom rules (a `modelvet scan --rules FILE` document). */
export interface WorkspaceRules {
  workspace_id: string;
  /** 0: never set. */
  version: number;
  rules: Record<string, unknown> | null;
  created_at: string | null;
  created_by: string | null;
  /** What this workspace's reports name: the pack version plus these rules. */
  rules_version: string;
}

export interface WorkspaceRulesChange extends WorkspaceRules {
  /** Latest results judged again (nothing read from the Hub). */
  rejudged: number;
  /** Models whose severity changed (a new result with reason "rules change"). */
  changed_models: string[];
}

export interface FileScan {
  /** The same id as `job_id`: a file scan is its job. */
  file_scan_id: string;
  job_id: string;
  model_id: string;
  project_id: string;
  workspace_id: string;
  status: ScanStatus;
  progress: { files_done: number; files_total: number; bytes_read: number };
  /** On failure, a reason a person can act on (bad token, repo gone, limit reached). */
  error: string | null;
  ram_request_megabytes: number | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  severity: Severity | null;
  severity_label: SeverityLabel | null;
  rules_version: string | null;
  rules_outdated: boolean;
  /** The commit sha the revision resolved to. */
  commit: string | null;
  /** The full report: on `?verbose=true` and in lists of results. */
  result?: ScanReport;
}

/** Where a finding sits: a container member and a byte offset. */
export interface Location {
  member?: string;
  offset?: number;
}

/** The engine's JSON report (README "JSON result shape"). */
export interface ScanReport {
  severity: Severity;
  severity_label: SeverityLabel;
  rules_version: string;
  /** Only files with something to report; empty when nothing was found. */
  file_security_reports: FileSecurityReport[];
  scanned_files: ScannedFile[];
  stats: { files: number; bytes_total: number; bytes_read: number; duration_ms: number; cached_files?: number };
  /** Hub repositories scanned, each pinned to a commit. */
  targets?: Array<{
    input: string;
    repo: string;
    repo_type: string;
    revision: string;
    commit: string;
    endpoint: string;
    files: number;
  }>;
}

export interface ScannedFile {
  path: string;
  severity: Severity;
  formats: string[];
  bytes_read: number;
  size: number;
  cached?: boolean;
  /** SHA-256 of the content, when known. */
  sha256?: string;
  /** Hub files: the file's page on the Hub at the scanned commit. */
  url?: string;
  /** The Hub's own verdict on the file, next to ours. */
  hub_verdict?: {
    level?: "innocuous" | "suspicious" | "dangerous";
    severity?: Severity;
    safe?: boolean;
    agrees: boolean;
  };
}

export interface FileSecurityReport {
  path: string;
  sha256?: string;
  size: number;
  formats: string[];
  severity: Severity;
  unsafe_dependencies: UnsafeDependency[];
  indicators: IndicatorFinding[];
  errors: string[];
}

export interface UnsafeDependency {
  module: string;
  name: string;
  severity: Severity;
  rule: string;
  reason: string;
  references: string[];
  locations: Location[];
  /** What would run, rendered from constants: `posix.system('echo hi')`. */
  call?: string;
  /** Canonical spelling when the file uses another one (`__builtin__.eval` → `builtins.eval`). */
  normalized?: string;
  /** How a computed reference was reached (`builtins.getattr`). */
  via?: string;
}

/** A finding that is not an import: a truncated stream, a Lambda layer, a template injection… */
export interface IndicatorFinding {
  id: string;
  severity: Severity;
  message: string;
  reason: string;
  references: string[];
  locations: Location[];
}

/**
 * A file scan with its report flattened in: the scan's fields (`severity`, `severity_label`, `status`, …) plus the
 * report's `file_security_reports`, `scanned_files` and `stats` (absent until the scan has succeeded), each once:
 * the nested `result` is not repeated.
 */
export type FileScanResult = Omit<FileScan, "result"> &
  Partial<Pick<ScanReport, "file_security_reports" | "scanned_files" | "stats">>;

export interface RulesInfo {
  version: string;
  rules: number;
  indicators: number;
  /** Every rule of the pack (import rules, then indicators). */
  entries?: RuleEntry[];
}

/** One rule of the server's pack: what it matches, its severity, why, and what to read about it. */
export interface RuleEntry {
  id: string;
  kind: "import" | "indicator";
  /** Import rules: the dotted path pattern, and what it matches in words. */
  match?: string;
  match_meaning?: string;
  severity: Severity;
  severity_label: SeverityLabel;
  reason: string;
  /** Advisories, CVEs, issues and format documentation. */
  references: string[];
}

/** A rule with its page, the Markdown text `modelvet rules explain <id>` prints. */
export interface RuleDetail extends RuleEntry {
  explanation: string;
}

/** An API key as listed: never the key itself, only what tells keys apart. */
export interface ApiKeyInfo {
  key_id: string;
  name: string;
  /** The key's first characters. */
  prefix: string | null;
  created_at: string;
}

/** What a client (the web UI) needs to know of the server. */
export interface ServerSettings {
  /** The Hugging Face endpoint models are read from (HF_ENDPOINT), for links to files. */
  hub_endpoint: string | null;
  rules_version: string;
}

export type ReportFormat = "json" | "sarif" | "cyclonedx";

export interface IntegrationVariable {
  name: string;
  /** "SECRET" or "PUBLIC"; the VARIABLE_SENSITIVITY_* spellings of other SDKs are accepted too. */
  sensitivity: string;
  value?: string;
}

/** An outbound webhook of a workspace (its secret is write-only: never returned). */
export interface Webhook {
  webhook_id: string;
  workspace_id: string;
  url: string;
  description: string;
  created_at: string;
  /** Id of the API key that created it. */
  created_by: string;
}

/** One attempt of a webhook delivery: the receiver's status, or why there was none. */
export interface WebhookAttempt {
  attempt: number;
  started_at: string;
  finished_at: string;
  status_code: number | null;
  error: string | null;
}

/** One event sent (or being sent) to a webhook, with every attempt. */
export interface WebhookDelivery {
  delivery_id: string;
  webhook_id: string;
  /** "alert" | "severity_changed" | "scan_failed". */
  event: string;
  state: "pending" | "delivering" | "delivered" | "failed";
  attempts: number;
  last_status: number | null;
  last_error: string | null;
  created_at: string;
  updated_at: string;
  /** When the next attempt is due (pending deliveries only). */
  next_attempt_at: string | null;
  delivered_at: string | null;
  attempt_log: WebhookAttempt[];
}
