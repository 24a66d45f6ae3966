import { SEVERITY_LABELS, type Severity } from "../policy/rules.js";
import type { FileSecurityReport, Location, ScanReport, ScannedFile } from "./types.js";

export interface TextOptions {
  /** Colours a severity label; identity when output is not a terminal. */
  paint?: (severity: Severity, text: string) => string;
  dim?: (text: string) => string;
  /** Lists Pass files too (default: true). */
  showPass?: boolean;
}

const identity = (_s: Severity, t: string): string => t;

/** One line per file with its severity, the findings indented under it, and a summary line. */
export function renderText(report: ScanReport, options: TextOptions = {}): string {
  const paint = options.paint ?? identity;
  const dim = options.dim ?? ((t: string) => t);
  const details = new Map(report.file_security_reports.map((r) => [r.path, r]));
  const lines: string[] = [];
  const counts: Record<Severity, number> = { 1: 0, 2: 0, 3: 0 };
  for (const file of report.scanned_files) {
    counts[file.severity]++;
    if (file.severity === 1 && options.showPass === false) continue;
    const label = paint(file.severity, SEVERITY_LABELS[file.severity].toUpperCase().padEnd(7));
    const formats = file.formats.length > 0 ? dim(` [${file.formats.join(", ")}]`) : "";
    const notes = [file.cached ? "cached" : "", hubNote(file.hub_verdict)].filter(Boolean).join(", ");
    lines.push(`${label} ${file.path}${formats}${notes ? dim(` (${notes})`) : ""}`);
    const detail = details.get(file.path);
    if (detail) lines.push(...renderFindings(detail, paint, dim));
  }
  const { stats } = report;
  for (const target of report.targets ?? [])
    lines.unshift(
      dim(`${target.input}: ${target.repo} at commit ${target.commit} (${target.files} files, ${target.endpoint})`),
    );
  for (const file of report.unreadable_files ?? [])
    lines.push(`${paint(2, "UNREAD ")} ${file.path} ${dim(`(could not be read: ${file.error})`)}`);
  const skipped = report.skipped_paths?.length ?? 0;
  lines.push(
    "",
    `${paint(report.severity, SEVERITY_LABELS[report.severity])}: ${stats.files} file${stats.files === 1 ? "" : "s"} — ` +
      `${counts[3]} Alert, ${counts[2]} Warning, ${counts[1]} Pass${stats.cached_files ? ` (${stats.cached_files} from cache)` : ""}; ` +
      `${readSummary(stats)} in ${(stats.duration_ms / 1000).toFixed(2)} s; rules ${report.rules_version}` +
      (skipped > 0 ? `; ${skipped} path${skipped === 1 ? "" : "s"} skipped` : ""),
  );
  return lines.join("\n") + "\n";
}

/**
 * "read X of Y" counts only the scanners' reads, so X never exceeds Y unless ranges were read twice, which is then
 * said; hashing for the cache is reported apart ("hashed Z").
 */
function readSummary(stats: ScanReport["stats"]): string {
  const read =
    stats.bytes_read <= stats.bytes_total
      ? `read ${formatBytes(stats.bytes_read)} of ${formatBytes(stats.bytes_total)}`
      : `read ${formatBytes(stats.bytes_total)} of ${formatBytes(stats.bytes_total)} (+${formatBytes(stats.bytes_read - stats.bytes_total)} read again)`;
  return stats.bytes_hashed ? `${read}, hashed ${formatBytes(stats.bytes_hashed)}` : read;
}

function hubNote(verdict: ScannedFile["hub_verdict"]): string {
  if (!verdict) return "";
  const theirs = verdict.level ?? (verdict.safe ? "safe" : "unsafe");
  return `Hub: ${theirs}, ${verdict.agrees ? "agrees" : "disagrees"}`;
}

function renderFindings(
  report: FileSecurityReport,
  paint: NonNullable<TextOptions["paint"]>,
  dim: (t: string) => string,
): string[] {
  const lines: string[] = [];
  for (const dep of report.unsafe_dependencies) {
    const name = dep.name ? `${dep.module}.${dep.name}` : dep.module;
    const normalized = dep.normalized ? dim(` (= ${dep.normalized})`) : "";
    lines.push(
      `    ${paint(dep.severity, SEVERITY_LABELS[dep.severity].padEnd(7))} ${name}${normalized}  ${dim(`[${dep.rule}]`)} ${dep.reason}`,
    );
    if (dep.call) lines.push(`            would run: ${dep.call}`);
    lines.push(
      `            ${dim(`at ${renderLocations(dep.locations)}${dep.via ? `, reached through ${dep.via}` : ""}`)}`,
    );
  }
  for (const ind of report.indicators) {
    lines.push(
      `    ${paint(ind.severity, SEVERITY_LABELS[ind.severity].padEnd(7))} ${ind.message}  ${dim(`[${ind.id}]`)}`,
    );
    if (ind.locations.length > 0 && ind.locations.some((l) => l.member || l.offset !== undefined))
      lines.push(`            ${dim(`at ${renderLocations(ind.locations)}`)}`);
  }
  return lines;
}

function renderLocations(locations: Location[]): string {
  return locations
    .slice(0, 3)
    .map((l) => [l.member, l.offset !== undefined ? `offset ${l.offset}` : undefined].filter(Boolean).join(" "))
    .join("; ");
}

/** `1.5 MiB`: binary units, one decimal below 10. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}
