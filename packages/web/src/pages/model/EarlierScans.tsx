import { useState } from "react";
import type { FileScan } from "../../api/types";
import { shortCommit } from "../../components/format";
import { ScanBadge, severityWord } from "../../components/SeverityBadge";
import { Time } from "../../components/Time";
import { Findings } from "./Findings";
import { ScanFacts } from "./ScanFacts";

interface Context {
  repo: string;
  hubEndpoint: string | null | undefined;
}

/**
 * Every finished scan of the model, newest first, each saying how its severity changed from the scan before it and
 * why (another commit, or other rules); each opens (native <details>) to its full result.
 */
export function EarlierScans({ scans, ...context }: { scans: FileScan[] } & Context) {
  return (
    <section aria-labelledby="history-title">
      <h3 id="history-title">History</h3>
      {scans.length === 0 ? (
        <p>No scans yet.</p>
      ) : (
        <ol className="history" reversed>
          {scans.map((scan, i) => (
            <HistoryEntry key={scan.file_scan_id} scan={scan} before={previousJudged(scans, i)} {...context} />
          ))}
        </ol>
      )}
    </section>
  );
}

/** The next older scan that has a severity (failed scans judge nothing). */
function previousJudged(scans: FileScan[], index: number): FileScan | undefined {
  return scans.slice(index + 1).find((s) => s.status === "succeeded");
}

function HistoryEntry({ scan, before, repo, hubEndpoint }: { scan: FileScan; before?: FileScan } & Context) {
  // A long history renders each scan's findings only once it is opened.
  const [open, setOpen] = useState(false);
  return (
    <li>
      <details className="earlier" onToggle={(e) => setOpen((e.target as HTMLDetailsElement).open)}>
        <summary>
          <Time iso={scan.finished_at ?? scan.created_at} /> <ScanBadge scan={scan} />{" "}
          <Change scan={scan} before={before} />
        </summary>
        {!open ? null : scan.status === "failed" ? (
          <p>
            <strong>Failed:</strong> {scan.error ?? "no reason recorded"}
          </p>
        ) : (
          <>
            <ScanFacts scan={scan} />
            <Findings report={scan.result} repo={repo} commit={scan.commit} hubEndpoint={hubEndpoint} />
          </>
        )}
      </details>
    </li>
  );
}

/** "Pass → Alert (commit a1b2 → c3d4)", "unchanged", or nothing for the first scan and failed ones. */
function Change({ scan, before }: { scan: FileScan; before?: FileScan }) {
  if (scan.status !== "succeeded" || !before) return null;
  const causes = [
    before.commit !== scan.commit && `commit ${shortCommit(before.commit)} → ${shortCommit(scan.commit)}`,
    before.rules_version !== scan.rules_version &&
      `rules ${before.rules_version ?? "?"} → ${scan.rules_version ?? "?"}`,
  ].filter(Boolean);
  const changed = before.severity !== scan.severity;
  return (
    <small className={changed ? "change changed" : "change muted"}>
      {changed ? `${severityWord(before.severity)} → ${severityWord(scan.severity)}` : "severity unchanged"}
      {causes.length > 0 && ` (${causes.join("; ")})`}
    </small>
  );
}
