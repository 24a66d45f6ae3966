import { createHash } from "node:crypto";
import type { Log, ReportingDescriptor, Result } from "sarif";
import type { Severity } from "../policy/rules.js";
import type { Location, ScanReport } from "./types.js";

const LEVEL: Record<Severity, Result.level> = { 1: "note", 2: "warning", 3: "error" };
const SECURITY_SEVERITY: Record<Severity, string> = { 1: "0.0", 2: "5.0", 3: "9.0" };

interface RuleInfo {
  id: string;
  severity: Severity;
  reason: string;
  references: string[];
}

/**
 * SARIF 2.1.0 for GitHub code scanning: one rule per rule id that produced a result (with help text and
 * references), one result per finding, located at the file; container members and byte offsets go in
 * `properties` since a binary file has no lines.
 */
export function toSarif(report: ScanReport, toolVersion: string, baseUri?: string): Log {
  const rules = new Map<string, RuleInfo>();
  const results: Result[] = [];
  for (const file of report.file_security_reports) {
    const uri = toUri(file.path, baseUri);
    for (const dep of file.unsafe_dependencies) {
      const name = dep.name ? `${dep.module}.${dep.name}` : dep.module;
      rules.set(
        dep.rule,
        rules.get(dep.rule) ?? { id: dep.rule, severity: dep.severity, reason: dep.reason, references: dep.references },
      );
      const text = `${file.path} imports ${name}: ${dep.reason}${dep.call ? ` Would run: ${dep.call}` : ""}`;
      results.push(result(dep.rule, dep.severity, text, uri, dep.locations, { global: name }));
    }
    for (const ind of file.indicators) {
      rules.set(
        ind.id,
        rules.get(ind.id) ?? { id: ind.id, severity: ind.severity, reason: ind.reason, references: ind.references },
      );
      results.push(result(ind.id, ind.severity, `${file.path}: ${ind.message}`, uri, ind.locations, {}));
    }
  }
  const ruleList = [...rules.values()];
  const index = new Map(ruleList.map((r, i) => [r.id, i]));
  for (const r of results) r.ruleIndex = index.get(r.ruleId!);
  return {
    $schema: "https://json.schemastore.org/sarif-2.1.0.json",
    version: "2.1.0",
    runs: [
      {
        tool: {
          driver: {
            name: "modelvet",
            version: toolVersion,
            semanticVersion: toolVersion,
            informationUri: "https://github.com/modelvet/modelvet",
            rules: ruleList.map(descriptor),
            properties: { rules_version: report.rules_version },
          },
        },
        results,
        properties: { severity: report.severity, severity_label: report.severity_label },
      },
    ],
  };
}

function descriptor(rule: RuleInfo): ReportingDescriptor {
  const refs = rule.references.length > 0 ? `\n\nReferences:\n${rule.references.map((r) => `- ${r}`).join("\n")}` : "";
  return {
    id: rule.id,
    name: rule.id.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ?? "").toUpperCase()),
    shortDescription: { text: rule.reason || rule.id },
    fullDescription: { text: rule.reason || rule.id },
    help: { text: `${rule.reason}${refs}`, markdown: `${rule.reason}${refs}` },
    ...(rule.references[0]?.startsWith("http") ? { helpUri: rule.references[0] } : {}),
    defaultConfiguration: { level: LEVEL[rule.severity] },
    properties: { tags: ["security", "supply-chain"], "security-severity": SECURITY_SEVERITY[rule.severity] },
  };
}

function result(
  ruleId: string,
  severity: Severity,
  text: string,
  uri: string,
  locations: Location[],
  extra: Record<string, string>,
): Result {
  const fingerprint = createHash("sha256").update(`${uri}\0${ruleId}\0${text}`).digest("hex").slice(0, 32);
  return {
    ruleId,
    level: LEVEL[severity],
    message: { text },
    locations: [{ physicalLocation: { artifactLocation: { uri } } }],
    partialFingerprints: { "modelvetFinding/v1": fingerprint },
    properties: { ...extra, locations },
  };
}

function toUri(path: string, baseUri?: string): string {
  const clean = path.replace(/\\/g, "/").replace(/^\.\//, "");
  const encoded = clean.split("/").map(encodeURIComponent).join("/");
  return baseUri ? new URL(encoded, baseUri).href : encoded;
}
