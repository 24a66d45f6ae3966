/**
 * The objects of the modelvet HTTP API (docs/API.md), field for field as the server sends them (snake_case).
 * They are the static types of the schemas the server validates and serialises with (@modelvet/schema): one
 * definition, no copy. Type-only: the SDK loads no schema code.
 */
import type {
  ApiKey as ListedApiKey,
  CreatedApiKey,
  FileScan,
  RegisterModelBody,
  RuleList,
  ScanReport,
} from "@modelvet/schema";

export type {
  FileScan,
  FileSecurityReport,
  FollowSettings,
  HubVerdict,
  IndicatorFinding,
  Integration,
  IntegrationField,
  Location,
  Model,
  Project,
  ReportFormat,
  RevisionEntry,
  RuleDetail,
  RuleEntry,
  ScanReport,
  ScanStats,
  ScanStatus,
  ScannedFile,
  ScanTarget,
  Sensitivity,
  ServerSettings,
  Severity,
  SeverityCounts,
  SeverityLabel,
  SkippedPathEntry,
  UnreadableFile,
  UnsafeDependency,
  Workspace,
  WorkspaceRules,
  WorkspaceRulesChange,
  WorkspaceSummary,
} from "@modelvet/schema";

/** A new API key: `api_key` is shown only in the answer that created it. */
export type ApiKey = CreatedApiKey;

/** An API key as listed: never the key itself, only what tells keys apart. */
export type ApiKeyInfo = ListedApiKey;

/** Where a model is read from. `follow`: scan new commits of the branch or tag (default true unless a commit). */
export type ModelConfig = RegisterModelBody["model_config"];

/**
 * A file scan with its report flattened in: the scan's fields (`severity`, `severity_label`, `status`, …) plus the
 * report's `file_security_reports`, `scanned_files` and `stats` (absent until the scan has succeeded), each once:
 * the nested `result` is not repeated.
 */
export type FileScanResult = Omit<FileScan, "result"> &
  Partial<Pick<ScanReport, "file_security_reports" | "scanned_files" | "stats">>;

/** The server's rules pack: its version, counts and every rule (import rules, then indicators). */
export type RulesInfo = RuleList;

/** An integration variable as a caller passes it (not a wire shape: other SDKs' spellings are accepted). */
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
