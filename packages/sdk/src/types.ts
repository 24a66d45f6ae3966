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
  CreateWebhookBody,
  ErrorBody,
  FileScan,
  FileSecurityReport,
  FollowSettings,
  FollowSettingsBody,
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
  UpdateIntegrationBody,
  UpdateModelBody,
  UpdateProjectBody,
  Webhook,
  WebhookAttempt,
  WebhookDelivery,
  WebhookEvent,
  WebhookEventName,
  WebhookTopFinding,
  Workspace,
  WorkspaceRules,
  WorkspaceRulesChange,
  WorkspaceRulesVersion,
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
