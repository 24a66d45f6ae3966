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
  /** The inventory came from the cache: nothing was read. */
  cached?: boolean;
  /** The Hub's own verdict on the file, next to ours. */
  hub_verdict?: HubVerdict;
  /** SHA-256 of the content, when known (hashed for the cache, or the Hub's LFS listing). */
  sha256?: string;
  /** Hub files: the file's web page at the scanned commit. */
  url?: string;
}

/** A file that could not be read at all (permissions, I/O error, vanished during the scan). */
export interface UnreadableFile {
  path: string;
  /** The operating system's error code (`EACCES`, `EIO`, `ENOENT`) or message. */
  error: string;
}

/** A path a folder walk left out: `excluded` (--exclude), `vcs` (default skips), `symlink-outside-root`, `not-regular`. */
export interface SkippedPathEntry {
  path: string;
  reason: "excluded" | "vcs" | "symlink-outside-root" | "not-regular";
}

/** The Hub's pickle-import scan of a file (innocuous / suspicious / dangerous) and whether it agrees with ours. */
export interface HubVerdict {
  level?: "innocuous" | "suspicious" | "dangerous";
  severity?: Severity;
  safe?: boolean;
  agrees: boolean;
}

/** A Hub repository scanned, with the commit every read was made at. */
export interface ScanTarget {
  input: string;
  repo: string;
  repo_type: "model" | "dataset" | "space";
  revision: string;
  commit: string;
  endpoint: string;
  files: number;
}

export interface ScanStats {
  files: number;
  bytes_total: number;
  /** Bytes the scanners actually read (for remote files: transferred); hashing is counted apart. */
  bytes_read: number;
  /** Bytes read to hash local files for the inventory cache. */
  bytes_hashed?: number;
  duration_ms: number;
  /** Files whose inventory came from the cache. */
  cached_files?: number;
}

export interface ScanReport {
  severity: Severity;
  severity_label: string;
  rules_version: string;
  file_security_reports: FileSecurityReport[];
  scanned_files: ScannedFile[];
  stats: ScanStats;
  /** Hub repositories scanned, each pinned to a commit. */
  targets?: ScanTarget[];
  /** Files that could not be read at all; the CLI exits 2 for them unless --allow-unreadable. */
  unreadable_files?: UnreadableFile[];
  /** Paths folder walks left out, with the reason. */
  skipped_paths?: SkippedPathEntry[];
}
