// The objects of docs/API.md (v1), as the browser receives them. Kept by hand rather than imported from the
// server so the UI builds on its own; the e2e test against the real server keeps the two in step.

export type Severity = 1 | 2 | 3;
export type SeverityLabel = "Pass" | "Warning" | "Alert";

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
    description: string;
    models: number;
    models_by_severity: SeverityCounts;
  }>;
  integrations: Integration[];
}

export type Sensitivity = "SECRET" | "PUBLIC";

export interface IntegrationField {
  name: string;
  sensitivity: Sensitivity;
  /** Present for PUBLIC fields only: the server never sends a SECRET value back. */
  value?: string;
}

export interface Integration {
  integration_id: string;
  workspace_id: string;
  name: string;
  integration_type: string;
  created_at: string;
  fields: IntegrationField[];
}

export interface Project {
  project_id: string;
  workspace_id: string;
  name: string;
  description: string;
  created_at: string;
  models_by_severity?: SeverityCounts;
}

export interface Model {
  model_id: string;
  project_id: string;
  workspace_id: string;
  name: string;
  created_at: string;
  integration_id: string | null;
  model_config: { hugging_face: { model_uri: string; revision: string } };
  latest_file_scan: FileScan | null;
}

export type ScanStatus = "queued" | "running" | "succeeded" | "failed";

export interface FileScan {
  file_scan_id: string;
  job_id: string;
  model_id: string;
  project_id: string;
  workspace_id: string;
  status: ScanStatus;
  progress: { files_done: number; files_total: number; bytes_read: number };
  error: string | null;
  ram_request_megabytes: number | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  severity: Severity | null;
  severity_label: SeverityLabel | null;
  rules_version: string | null;
  rules_outdated: boolean;
  commit: string | null;
  result?: ScanReport;
}

// The engine's JSON result shape (README "JSON result shape"); only the fields the UI shows.
export interface Location {
  member?: string;
  offset?: number;
}

export interface UnsafeDependency {
  module: string;
  name: string;
  severity: Severity;
  rule: string;
  reason: string;
  references: string[];
  locations: Location[];
  call?: string;
  normalized?: string;
  via?: string;
}

export interface IndicatorFinding {
  id: string;
  severity: Severity;
  message: string;
  reason: string;
  references: string[];
  locations: Location[];
}

export interface FileSecurityReport {
  path: string;
  size: number;
  formats: string[];
  severity: Severity;
  unsafe_dependencies: UnsafeDependency[];
  indicators: IndicatorFinding[];
  errors: string[];
}

export interface ScannedFile {
  path: string;
  severity: Severity;
  formats: string[];
  bytes_read: number;
  size: number;
}

export interface ScanReport {
  severity: Severity;
  severity_label: string;
  rules_version: string;
  file_security_reports: FileSecurityReport[];
  scanned_files: ScannedFile[];
  stats: { files: number; bytes_total: number; bytes_read: number; duration_ms: number };
}

export interface RulesInfo {
  version: string;
  rules: number;
  indicators: number;
}
