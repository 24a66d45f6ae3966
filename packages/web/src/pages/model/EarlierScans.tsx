import type { FileScan } from "../../api/types";
import { ScanBadge } from "../../components/SeverityBadge";
import { Time } from "../../components/Time";
import { FileReports } from "./FileReports";
import { ScanFacts } from "./ScanFacts";

/** Every other scan of the model, newest first; each opens (native <details>, keyboard-ready) to its full result. */
export function EarlierScans({ scans }: { scans: FileScan[] }) {
  return (
    <section aria-labelledby="earlier-title">
      <h3 id="earlier-title">Earlier scans</h3>
      {scans.length === 0 ? (
        <p>No earlier scans.</p>
      ) : (
        scans.map((scan) => (
          <details key={scan.file_scan_id} className="earlier">
            <summary>
              <Time iso={scan.finished_at ?? scan.created_at} /> <ScanBadge scan={scan} />
              {scan.rules_version && <small className="muted"> rules {scan.rules_version}</small>}
            </summary>
            {scan.status === "failed" ? (
              <p>
                <strong>Failed:</strong> {scan.error ?? "no reason recorded"}
              </p>
            ) : (
              <>
                <ScanFacts scan={scan} />
                <FileReports report={scan.result} />
              </>
            )}
          </details>
        ))
      )}
    </section>
  );
}
