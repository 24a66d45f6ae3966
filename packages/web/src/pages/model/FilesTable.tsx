import { useId, useMemo, useState } from "react";
import type { ScannedFile, ScanReport, Severity } from "../../api/types";
import { formatBytes, plural, safeHref } from "../../components/format";
import { SeverityBadge } from "../../components/SeverityBadge";
import { displayPath, hubFileUrl } from "./paths";

type SeverityFilter = "all" | "3" | "2" | "1";

/** Worst first, then by path, so what a reviewer must open first is on top. */
export function sortFiles(files: ScannedFile[]): ScannedFile[] {
  return [...files].sort((a, b) => b.severity - a.severity || a.path.localeCompare(b.path));
}

/**
 * Every scanned file with its severity, formats, size and what was read, filterable by severity, format and text.
 * On a narrow screen each row becomes a card that starts with severity and path (CSS `.files-table`).
 */
export function FilesTable({
  report,
  repo,
  commit,
  hubEndpoint,
}: {
  report: ScanReport;
  repo: string;
  commit: string | null;
  hubEndpoint: string | null | undefined;
}) {
  const titleId = useId();
  const [severity, setSeverity] = useState<SeverityFilter>("all");
  const [format, setFormat] = useState("all");
  const [text, setText] = useState("");
  const files = useMemo(() => sortFiles(report.scanned_files), [report]);
  const formats = useMemo(() => [...new Set(files.flatMap((f) => f.formats))].sort(), [files]);
  const needle = text.trim().toLowerCase();
  const shown = files.filter(
    (f) =>
      (severity === "all" || f.severity === Number(severity)) &&
      (format === "all" || (format === "none" ? f.formats.length === 0 : f.formats.includes(format))) &&
      (!needle || displayPath(f.path).toLowerCase().includes(needle)),
  );
  const withHub = files.some((f) => f.hub_verdict);
  return (
    <section aria-labelledby={titleId} className="files">
      <h3 id={titleId}>Files ({plural(files.length, "file")})</h3>
      <form className="filters" role="search" aria-label="Filter files" onSubmit={(e) => e.preventDefault()}>
        <label>
          Severity
          <select value={severity} onChange={(e) => setSeverity(e.target.value as SeverityFilter)}>
            <option value="all">All</option>
            <option value="3">Alert</option>
            <option value="2">Warning</option>
            <option value="1">Pass</option>
          </select>
        </label>
        <label>
          Format
          <select value={format} onChange={(e) => setFormat(e.target.value)}>
            <option value="all">All</option>
            {formats.map((f) => (
              <option key={f} value={f}>
                {f}
              </option>
            ))}
            <option value="none">None recognised</option>
          </select>
        </label>
        <label>
          Path contains
          <input type="search" value={text} onChange={(e) => setText(e.target.value)} />
        </label>
      </form>
      <p className="muted" aria-live="polite">
        {shown.length === files.length ? `Showing all ${files.length}.` : `Showing ${shown.length} of ${files.length}.`}
      </p>
      <table className="files-table">
        <caption className="visually-hidden">Scanned files, worst first</caption>
        <thead>
          <tr>
            <th scope="col">Severity</th>
            <th scope="col">File</th>
            <th scope="col">Formats</th>
            <th scope="col" className="num">
              Size
            </th>
            <th scope="col" className="num">
              Read
            </th>
            {withHub && <th scope="col">Hub’s scan</th>}
          </tr>
        </thead>
        <tbody>
          {shown.map((f) => (
            <FileRow key={f.path} file={f} href={hubFileUrl(f, hubEndpoint, repo, commit)} withHub={withHub} />
          ))}
        </tbody>
      </table>
      {shown.length === 0 && <p>No file matches these filters.</p>}
    </section>
  );
}

function FileRow({ file, href, withHub }: { file: ScannedFile; href: string | undefined; withHub: boolean }) {
  const path = displayPath(file.path);
  const safe = href ? safeHref(href) : undefined;
  return (
    <tr className={`sev-row-${file.severity}`}>
      <td data-label="Severity">
        <SeverityBadge severity={file.severity} />
      </td>
      <th scope="row" data-label="File">
        {safe ? (
          <a
            href={safe}
            target="_blank"
            rel="noopener noreferrer"
            title="Open this file on the Hub at the scanned commit"
          >
            <code>{path}</code>
          </a>
        ) : (
          <code>{path}</code>
        )}
      </th>
      <td data-label="Formats">{file.formats.join(", ") || "—"}</td>
      <td data-label="Size" className="num">
        {formatBytes(file.size)}
      </td>
      <td data-label="Read" className="num">
        {file.cached ? <span className="tag">from cache</span> : formatBytes(file.bytes_read)}
      </td>
      {withHub && (
        <td data-label="Hub’s scan">
          <HubVerdict verdict={file.hub_verdict} ours={file.severity} />
        </td>
      )}
    </tr>
  );
}

const HUB_WORDS = { innocuous: "innocuous", suspicious: "suspicious", dangerous: "dangerous" } as const;

/** The Hub's pickle-import scan of the file, and whether its level agrees with our severity. */
function HubVerdict({ verdict, ours }: { verdict: ScannedFile["hub_verdict"]; ours: Severity }) {
  if (!verdict) return <span className="muted">—</span>;
  const word = verdict.level ? HUB_WORDS[verdict.level] : verdict.safe === false ? "unsafe" : "safe";
  return (
    <span className={`hub-verdict ${verdict.agrees ? "agrees" : "disagrees"}`}>
      {word}{" "}
      <span className={`tag ${verdict.agrees ? "" : "tag-warn"}`}>
        {verdict.agrees ? "agrees" : ours > (verdict.severity ?? 1) ? "we see more" : "disagrees"}
      </span>
    </span>
  );
}
