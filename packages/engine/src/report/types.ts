import type { Severity } from "../policy/rules.js";

/** The JSON result shape (snake_case, as the API returns it). */
export interface Location {
  member?: string;
  offset?: number;
}

export interface UnsafeDependency {
  module: string;
  name: string;
  severity: Severity;
  /** Id of the deciding rule, or `unlisted` when none matched. */
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
  sha256?: string;
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

export interface ScanStats {
  files: number;
  bytes_total: number;
  bytes_read: number;
  duration_ms: number;
}

export interface ScanReport {
  severity: Severity;
  severity_label: string;
  rules_version: string;
  file_security_reports: FileSecurityReport[];
  scanned_files: ScannedFile[];
  stats: ScanStats;
}
