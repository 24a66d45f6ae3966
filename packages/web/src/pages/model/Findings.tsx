import { useId } from "react";
import type { FileSecurityReport, Location, ScanReport } from "../../api/types";
import { plural, safeHref } from "../../components/format";
import { RuleLink } from "../../components/RuleLink";
import { SeverityBadge } from "../../components/SeverityBadge";
import {
  byExpression,
  describeLocation,
  groupFindings,
  MAX_MESSAGES,
  type ImportGroup,
  type IndicatorGroup,
  type TemplateGroup,
} from "./group-findings";
import { displayPath, hubFileUrl } from "./paths";

/** Per file with findings, worst first: one entry per rule and import, per template, per indicator rule. */
export function Findings({
  report,
  repo,
  commit,
  hubEndpoint,
}: {
  report: ScanReport | undefined;
  repo: string;
  commit: string | null;
  hubEndpoint: string | null | undefined;
}) {
  const titleId = useId();
  if (!report) return <p>The detailed result of this scan is not available.</p>;
  const files = [...report.file_security_reports].sort(
    (a, b) => b.severity - a.severity || a.path.localeCompare(b.path),
  );
  const urls = new Map(report.scanned_files.map((f) => [f.path, hubFileUrl(f, hubEndpoint, repo, commit)]));
  return (
    <section aria-labelledby={titleId} className="file-reports">
      <h3 id={titleId}>Findings</h3>
      {files.length === 0 ? (
        <p>No file has findings: every file scanned passed.</p>
      ) : (
        files.map((file) => <FileFindings key={file.path} file={file} href={urls.get(file.path)} />)
      )}
    </section>
  );
}

function FileFindings({ file, href }: { file: FileSecurityReport; href: string | undefined }) {
  const groups = groupFindings(file);
  const safe = href ? safeHref(href) : undefined;
  const path = displayPath(file.path);
  return (
    <article className="file-report" aria-label={`Findings in ${path}`}>
      <header>
        <h4>
          <SeverityBadge severity={file.severity} />{" "}
          {safe ? (
            <a href={safe} target="_blank" rel="noopener noreferrer">
              <code>{path}</code>
            </a>
          ) : (
            <code>{path}</code>
          )}
        </h4>
        <small className="muted">
          {file.formats.join(", ") || "unknown format"} ·{" "}
          {plural(file.unsafe_dependencies.length + file.indicators.length, "finding")}
          {groups.length < file.unsafe_dependencies.length + file.indicators.length &&
            ` in ${plural(groups.length, "entry", "entries")}`}
        </small>
      </header>
      <ul className="findings">
        {groups.map((g) =>
          g.kind === "import" ? (
            <ImportEntry key={g.key} group={g} />
          ) : g.kind === "template" ? (
            <TemplateEntry key={g.key} group={g} />
          ) : (
            <IndicatorEntry key={g.key} group={g} />
          ),
        )}
      </ul>
      {file.errors.length > 0 && (
        <>
          <h5>Could not read</h5>
          <ul>
            {file.errors.map((e, i) => (
              <li key={i}>{e}</li>
            ))}
          </ul>
        </>
      )}
    </article>
  );
}

function ImportEntry({ group }: { group: ImportGroup }) {
  return (
    <li className="finding">
      <p className="finding-title">
        <SeverityBadge severity={group.severity} /> <code className="global">{group.global}</code>{" "}
        <RuleLink id={group.rule} />
        {group.normalized && <small className="muted"> (that is {group.normalized})</small>}
      </p>
      <p className="reason">{group.reason}</p>
      {group.calls.length > 0 && (
        <>
          <p className="label">{group.calls.length === 1 ? "Call that would run" : "Calls that would run"}</p>
          {group.calls.map((call) => (
            <pre key={call}>
              <code>{call}</code>
            </pre>
          ))}
        </>
      )}
      {group.via.length > 0 && (
        <p>
          Reached through{" "}
          {group.via.map((v, i) => (
            <span key={v}>
              {i > 0 && ", "}
              <code>{v}</code>
            </span>
          ))}
        </p>
      )}
      <Where locations={group.locations} />
    </li>
  );
}

function TemplateEntry({ group }: { group: TemplateGroup }) {
  return (
    <li className="finding">
      <p className="finding-title">
        <SeverityBadge severity={group.severity} /> Template <code>{group.template}</code>{" "}
        <small className="muted">{plural(group.findings.length, "finding")}</small>
      </p>
      <ul className="expressions" aria-label={`Offending expressions in ${group.template}`}>
        {byExpression(group).map(({ expression, items }) => (
          <li key={expression ?? ""}>
            {expression ? (
              <pre>
                <code>{expression}</code>
              </pre>
            ) : (
              <p className="muted">The whole template</p>
            )}
            <ul className="reaches">
              {items.map((item, i) => (
                <li key={i}>
                  {item.what} <RuleLink id={item.rule} />
                </li>
              ))}
            </ul>
          </li>
        ))}
      </ul>
      <Where locations={group.locations} />
    </li>
  );
}

function IndicatorEntry({ group }: { group: IndicatorGroup }) {
  const shown = group.messages.slice(0, MAX_MESSAGES);
  return (
    <li className="finding">
      <p className="finding-title">
        <SeverityBadge severity={group.severity} /> {group.messages.length === 1 ? group.messages[0] : group.reason}{" "}
        <RuleLink id={group.rule} />
      </p>
      {group.messages.length === 1 ? (
        <p className="reason">{group.reason}</p>
      ) : (
        <ul>
          {shown.map((m) => (
            <li key={m}>{m}</li>
          ))}
          {group.messages.length > shown.length && <li>… and {group.messages.length - shown.length} more</li>}
        </ul>
      )}
      <Where locations={group.locations} />
    </li>
  );
}

/** The places a finding occurs, folded; nothing at all when the finding has none (no empty "Where"). */
function Where({ locations }: { locations: Location[] }) {
  const texts = [...new Set(locations.map(describeLocation).filter(Boolean))];
  if (texts.length === 0) return null;
  if (texts.length === 1) return <p className="where">Where: {texts[0]}</p>;
  return (
    <details className="where">
      <summary>Where: {plural(texts.length, "place")}</summary>
      <ul>
        {texts.slice(0, 200).map((t) => (
          <li key={t}>{t}</li>
        ))}
      </ul>
    </details>
  );
}
