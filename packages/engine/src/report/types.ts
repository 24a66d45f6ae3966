// The JSON result shape (snake_case, as the API returns it) is defined once, in @modelvet/schema; the engine
// builds reports of these types. Type-only: scanning loads no schema code.
export type {
  FileSecurityReport,
  HubVerdict,
  IndicatorFinding,
  Location,
  ScanReport,
  ScanStats,
  ScannedFile,
  ScanTarget,
  SkippedPathEntry,
  UnreadableFile,
  UnsafeDependency,
} from "@modelvet/schema";
