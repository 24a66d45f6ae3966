export {
  scanTargets,
  scanTargetsWithInventories,
  rejudgeReport,
  scanPaths,
  buildReport,
  loadClassifier,
  collectFiles,
  ScanError,
  NothingToScanError,
} from "./scan.js";
export { inspect } from "./scan-item.js";
export { POOL_MIN_FILES } from "./scan-pool.js";
export { DEFAULT_SKIPPED_DIRS } from "./walk/collect.js";
export { InventoryCache } from "./cache.js";
export {
  HubClient,
  HubAccessError,
  hubSettingsFromEnv,
  DEFAULT_ENDPOINT,
  type HubSettings,
  type HubFile,
} from "./hub/client.js";
export { parseTarget, TargetError, type Target, type HubTarget } from "./hub/target.js";
export { repoIdProblem, revisionProblem } from "./hub/names.js";
export { HttpRangeSource, RequestGate, RemoteReadError } from "./source/http-source.js";
export type { ScanOptions, ScanProgress } from "./scan.js";
export { DEFAULT_SCAN_LIMITS, type ScanLimits } from "./inspect.js";
export { Classifier, type Verdict, type CandidateMatch } from "./policy/classify.js";
export { judge } from "./policy/judge.js";
export {
  loadBuiltinPack,
  loadPackDir,
  withUserRules,
  builtinRulesDir,
  RulesError,
  SEVERITY_LABELS,
  type Rule,
  type RulesPack,
  type Severity,
  type IndicatorRule,
} from "./policy/rules.js";
export {
  scanPickles,
  DEFAULT_LIMITS,
  type PickleScan,
  type PickleOptions,
  type PickleLimits,
  type ImportRecord,
} from "./pickle/machine.js";
export { OPCODES } from "./pickle/opcodes.js";
export { ByteReader, SourceWindow, StreamChunks } from "./source/byte-reader.js";
export { FileSource, BufferSource, SliceSource, CachingSource, type ByteSource } from "./source/byte-source.js";
export type { FileInventory, InventoryImport, InventoryIndicator } from "./inventory.js";
export type * from "./report/types.js";
export { toSarif } from "./report/sarif.js";
export { renderText, formatBytes, type TextOptions } from "./report/text.js";
export {
  citedReferences,
  documentedRules,
  findRuleDoc,
  matchMeaning,
  renderRuleDoc,
  renderRuleIndex,
  type RuleDoc,
} from "./policy/rule-docs.js";
export { ruleName, RULE_DOCS_BASE, type SarifOptions } from "./report/sarif.js";

/**
 * A CycloneDX 1.6 ML-BOM of a report (JSON text). The CycloneDX library is large and only this export needs it, so
 * it loads on the first call rather than with the engine.
 */
export async function toCycloneDx(
  report: import("./report/types.js").ScanReport,
  toolVersion: string,
): Promise<string> {
  const { toCycloneDx: write } = await import("./report/cyclonedx.js");
  return write(report, toolVersion);
}
