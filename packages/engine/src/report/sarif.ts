import { isAbsolute, relative, resolve, sep } from "node:path";
import { pathToFileURL } from "node:url";
import type { Invocation, Location as SarifLocation, Log, Notification, ReportingDescriptor, Result } from "sarif";
import type { Severity } from "../policy/rules.js";
import type { Location, ScanReport } from "./types.js";

const LEVEL: Record<Severity, Result.level> = { 1: "note", 2: "warning", 3: "error" };
const SECURITY_SEVERITY: Record<Severity, string> = { 1: "0.0", 2: "5.0", 3: "9.0" };
/** Where each rule's page lives: docs/rules/<id>.md, generated from the rules pack (`npm run docs:rules`). */
export const RULE_DOCS_BASE = "https://github.com/modelvet/modelvet/blob/main/docs/rules/";
const INFORMATION_URI = "https://github.com/modelvet/modelvet";
const SRCROOT = "%SRCROOT%";
/** More locations of one finding than this are summarized: code scanning shows the first one anyway. */
const MAX_LOCATIONS = 10;

export interface SarifOptions {
  /** Folder local paths are made relative to (`%SRCROOT%`); the working directory by default. */
  sourceRoot?: string;
  /** `run.automationDetails.id` category (`--sarif-category`), so several analyses of a repo stay apart. */
  category?: string;
  /** How the scan ended, for `run.invocations`. */
  invocation?: { exitCode: number; startTime: Date; endTime: Date; successful: boolean };
}

interface RuleInfo {
  id: string;
  severity: Severity;
  reason: string;
  references: string[];
}

/**
 * SARIF 2.1.0 that GitHub code scanning ingests: paths under the source root are relative to `%SRCROOT%`, other
 * local paths are `file://` URIs, Hub files their https page at the scanned commit. A binary file has no lines, so
 * every region is `startLine: 1` plus the byte offset where the finding is in the file itself; container members
 * are named in the message and as logical locations. Files that could not be read are tool notifications.
 */
export function toSarif(report: ScanReport, toolVersion: string, options: SarifOptions = {}): Log {
  const root = resolve(options.sourceRoot ?? process.cwd());
  const urls = new Map(report.scanned_files.filter((f) => f.url).map((f) => [f.path, f.url!]));
  const unreadable = new Set((report.unreadable_files ?? []).map((f) => f.path));
  const locate = (path: string): ArtifactRef => artifactRef(path, root, urls);
  const rules = new Map<string, RuleInfo>();
  const results: Result[] = [];
  for (const file of report.file_security_reports) {
    const artifact = locate(file.path);
    for (const dep of file.unsafe_dependencies) {
      const name = dep.name ? `${dep.module}.${dep.name}` : dep.module;
      if (!rules.has(dep.rule)) rules.set(dep.rule, { id: dep.rule, ...dep });
      const text = `${file.path}${membersNote(dep.locations)} imports ${name}: ${dep.reason}${dep.call ? ` Would run: ${dep.call}` : ""}`;
      results.push(result(dep.rule, dep.severity, text, artifact, file.path, dep.locations, { global: name }));
    }
    for (const ind of file.indicators) {
      // An unreadable file is a notification of the invocation, not a finding in it.
      if (ind.id === "scan.error" && unreadable.has(file.path)) continue;
      if (!rules.has(ind.id)) rules.set(ind.id, { ...ind });
      const text = `${file.path}${membersNote(ind.locations)}: ${ind.message}`;
      results.push(result(ind.id, ind.severity, text, artifact, file.path, ind.locations, {}));
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
            informationUri: INFORMATION_URI,
            rules: ruleList.map(descriptor),
            properties: { rules_version: report.rules_version },
          },
        },
        automationDetails: { id: `${options.category ?? "modelvet"}/` },
        originalUriBaseIds: { [SRCROOT]: { uri: pathToFileURL(root).href.replace(/\/?$/, "/") } },
        invocations: [invocation(report, locate, options.invocation)],
        results,
        properties: { severity: report.severity, severity_label: report.severity_label },
      },
    ],
  };
}

interface ArtifactRef {
  uri: string;
  uriBaseId?: string;
}

function artifactRef(path: string, root: string, urls: Map<string, string>): ArtifactRef {
  const url = urls.get(path);
  if (url) return { uri: url };
  const absolute = resolve(path);
  const rel = relative(root, absolute);
  if (rel && !rel.startsWith("..") && !isAbsolute(rel))
    return { uri: rel.split(sep).map(encodeURIComponent).join("/"), uriBaseId: SRCROOT };
  return { uri: pathToFileURL(absolute).href };
}

function invocation(
  report: ScanReport,
  locate: (path: string) => ArtifactRef,
  ended: SarifOptions["invocation"],
): Invocation {
  const notifications: Notification[] = (report.unreadable_files ?? []).map((f) => ({
    level: "error",
    message: { text: `${f.path} could not be read (${f.error}); it was not scanned.` },
    descriptor: { id: "scan.unreadable" },
    locations: [{ physicalLocation: { artifactLocation: locate(f.path) } }],
  }));
  return {
    executionSuccessful: ended?.successful ?? true,
    ...(ended
      ? {
          exitCode: ended.exitCode,
          startTimeUtc: ended.startTime.toISOString(),
          endTimeUtc: ended.endTime.toISOString(),
        }
      : {}),
    ...(notifications.length > 0 ? { toolExecutionNotifications: notifications } : {}),
  };
}

/** `DenyOs` for `deny-os`: a readable name that differs from the id, as SARIF1001 asks. */
export function ruleName(id: string): string {
  const camel = id.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ?? "").toUpperCase());
  const name = camel.charAt(0).toUpperCase() + camel.slice(1);
  // The validator compares case-insensitively: `unlisted` → `UnlistedFinding`, not `Unlisted`.
  return name.toLowerCase() === id.toLowerCase() ? `${name}Finding` : name;
}

function descriptor(rule: RuleInfo): ReportingDescriptor {
  const refs = rule.references.length > 0 ? `\n\nReferences:\n${rule.references.map((r) => `- ${r}`).join("\n")}` : "";
  const reason = rule.reason || `Finding ${rule.id}.`;
  return {
    id: rule.id,
    name: ruleName(rule.id),
    shortDescription: { text: firstSentence(reason) },
    fullDescription: { text: reason },
    help: { text: `${reason}${refs}`, markdown: `${reason}${refs}` },
    helpUri: `${RULE_DOCS_BASE}${encodeURIComponent(rule.id)}.md`,
    defaultConfiguration: { level: LEVEL[rule.severity] },
    properties: { tags: ["security", "supply-chain"], "security-severity": SECURITY_SEVERITY[rule.severity] },
  };
}

function firstSentence(text: string): string {
  const end = text.search(/[.!?](\s|$)/);
  return end > 0 ? text.slice(0, end + 1) : text;
}

function membersNote(locations: Location[]): string {
  const members = [...new Set(locations.map((l) => l.member).filter((m): m is string => !!m))];
  if (members.length === 0) return "";
  const shown = members.slice(0, 3).join(", ");
  return ` (member ${shown}${members.length > 3 ? ` and ${members.length - 3} more` : ""})`;
}

function result(
  ruleId: string,
  severity: Severity,
  text: string,
  artifact: ArtifactRef,
  path: string,
  locations: Location[],
  extra: Record<string, string>,
): Result {
  // node:crypto loads on the first SARIF result, not when a text or JSON scan starts.
  const { createHash } = process.getBuiltinModule("node:crypto");
  const fingerprint = createHash("sha256").update(`${path}\0${ruleId}\0${text}`).digest("hex").slice(0, 32);
  const places = locations.length > 0 ? locations.slice(0, MAX_LOCATIONS) : [{}];
  return {
    ruleId,
    level: LEVEL[severity],
    message: { text },
    locations: places.map((l) => sarifLocation(artifact, path, l)),
    partialFingerprints: { "modelvetFinding/v1": fingerprint },
    properties: { ...extra, locations },
  };
}

function sarifLocation(artifact: ArtifactRef, path: string, location: Location): SarifLocation {
  // An offset inside a member is an offset in its decompressed bytes, not in the file: only the file's own count.
  const inFile = !location.member && location.offset !== undefined;
  return {
    physicalLocation: {
      artifactLocation: artifact,
      region: { startLine: 1, ...(inFile ? { byteOffset: location.offset!, byteLength: 1 } : {}) },
    },
    ...(location.member
      ? {
          logicalLocations: [
            {
              name: location.member,
              fullyQualifiedName: `${path}/${location.member}`,
              kind: "member",
              ...(location.offset !== undefined ? { properties: { offset: location.offset } } : {}),
            },
          ],
        }
      : {}),
  };
}
