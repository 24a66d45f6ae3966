import { useId } from "react";
import type { FileSecurityReport, IndicatorFinding, Location, ScanReport, UnsafeDependency } from "../../api/types";
import { formatBytes, plural, safeHref } from "../../components/format";
import { SeverityBadge } from "../../components/SeverityBadge";

/** Per file, everything that is not Pass: the imports that would run code and the other findings, worst first. */
export function FileReports({ report }: { report: ScanReport | undefined }) {
  const titleId = useId();
  if (!report) return <p>The detailed result of this scan is not available.</p>;
  const files = [...report.file_security_reports].sort((a, b) => b.severity - a.severity);
  return (
    <section aria-labelledby={titleId} className="file-reports">
      <h3 id={titleId}>Files</h3>
      {files.length === 0 ? (
        <p>No file has findings: every file scanned passed.</p>
      ) : (
        files.map((file) => <FileReport key={file.path} file={file} />)
      )}
      <ScannedFiles report={report} />
    </section>
  );
}

function FileReport({ file }: { file: FileSecurityReport }) {
  return (
    <article className="file-report">
      <header>
        <h4>
          <code>{file.path}</code>
        </h4>
        <p>
          <SeverityBadge severity={file.severity} />{" "}
          <small className="muted">
            {file.formats.join(", ") || "unknown format"} · {formatBytes(file.size)}
          </small>
        </p>
      </header>
      {file.unsafe_dependencies.length > 0 && (
        <>
          <h5>Unsafe dependencies ({file.unsafe_dependencies.length})</h5>
          <ul className="findings">
            {file.unsafe_dependencies.map((dep, i) => (
              <Dependency key={`${dep.module}.${dep.name}.${i}`} dep={dep} />
            ))}
          </ul>
        </>
      )}
      {file.indicators.length > 0 && (
        <>
          <h5>Other findings ({file.indicators.length})</h5>
          <ul className="findings">
            {file.indicators.map((ind, i) => (
              <Indicator key={`${ind.id}.${i}`} indicator={ind} />
            ))}
          </ul>
        </>
      )}
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

function Dependency({ dep }: { dep: UnsafeDependency }) {
  const global = `${dep.module}.${dep.name}`;
  return (
    <li className="finding">
      <p className="finding-title">
        <SeverityBadge severity={dep.severity} /> <code className="global">{global}</code>
        {dep.normalized && dep.normalized !== global && <small className="muted"> (that is {dep.normalized})</small>}
      </p>
      <dl>
        <dt>Rule</dt>
        <dd>
          <code>{dep.rule}</code>
        </dd>
        <dt>Reason</dt>
        <dd>{dep.reason}</dd>
        {dep.call && (
          <>
            <dt>Call that would run</dt>
            <dd>
              <pre>
                <code>{dep.call}</code>
              </pre>
            </dd>
          </>
        )}
        {dep.via && (
          <>
            <dt>Reached through</dt>
            <dd>
              <code>{dep.via}</code>
            </dd>
          </>
        )}
        <Where locations={dep.locations} />
        <References urls={dep.references} />
      </dl>
    </li>
  );
}

function Indicator({ indicator }: { indicator: IndicatorFinding }) {
  return (
    <li className="finding">
      <p className="finding-title">
        <SeverityBadge severity={indicator.severity} /> {indicator.message}
      </p>
      <dl>
        <dt>Rule</dt>
        <dd>
          <code>{indicator.id}</code>
        </dd>
        <dt>Reason</dt>
        <dd>{indicator.reason}</dd>
        <Where locations={indicator.locations} />
        <References urls={indicator.references} />
      </dl>
    </li>
  );
}

function Where({ locations }: { locations: Location[] }) {
  if (locations.length === 0) return null;
  const text = locations
    .map((l) =>
      [l.member && `in ${l.member}`, l.offset !== undefined && `at byte ${l.offset}`].filter(Boolean).join(" "),
    )
    .join("; ");
  return (
    <>
      <dt>Where</dt>
      <dd>{text}</dd>
    </>
  );
}

function References({ urls }: { urls: string[] }) {
  if (urls.length === 0) return null;
  return (
    <>
      <dt>References</dt>
      <dd>
        <ul className="references">
          {urls.map((url) => {
            const href = safeHref(url);
            return (
              <li key={url}>
                {href ? (
                  <a href={href} target="_blank" rel="noopener noreferrer">
                    {url}
                  </a>
                ) : (
                  url
                )}
              </li>
            );
          })}
        </ul>
      </dd>
    </>
  );
}

function ScannedFiles({ report }: { report: ScanReport }) {
  const files = report.scanned_files;
  if (files.length === 0) return null;
  return (
    <details>
      <summary>All scanned files ({plural(files.length, "file")})</summary>
      <div className="overflow-auto" role="region" aria-label="Scanned files table" tabIndex={0}>
        <table>
          <thead>
            <tr>
              <th scope="col">File</th>
              <th scope="col">Format</th>
              <th scope="col">Severity</th>
              <th scope="col" className="num">
                Read
              </th>
            </tr>
          </thead>
          <tbody>
            {files.map((f) => (
              <tr key={f.path}>
                <th scope="row">
                  <code>{f.path}</code>
                </th>
                <td>{f.formats.join(", ") || "—"}</td>
                <td>
                  <SeverityBadge severity={f.severity} />
                </td>
                <td className="num">
                  {formatBytes(f.bytes_read)} of {formatBytes(f.size)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </details>
  );
}
