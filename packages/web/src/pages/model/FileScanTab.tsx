import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, keys } from "../../api/client";
import type { FileScan, Model } from "../../api/types";
import { ErrorNotice } from "../../components/ErrorNotice";
import { severityWord } from "../../components/SeverityBadge";
import { Time } from "../../components/Time";
import { EarlierScans } from "./EarlierScans";
import { ExportButtons } from "./ExportButtons";
import { FilesTable } from "./FilesTable";
import { Findings } from "./Findings";
import { ScanProgress } from "./ScanProgress";
import { Verdict } from "./Verdict";
import { isActive, refreshAfterScan } from "./scan-state";

/**
 * The File Scan tab: run a scan and follow it, then the latest verdict with its per-file findings, then the
 * history. A scan already running when the page opens (started elsewhere, or before a reload) is followed too.
 */
export function FileScanTab({ model }: { model: Model }) {
  const queryClient = useQueryClient();
  const scans = useQuery({ queryKey: keys.fileScans(model.model_id), queryFn: () => api.fileScans(model.model_id) });
  const rules = useQuery({ queryKey: keys.rules, queryFn: api.rules, staleTime: 60_000 });
  const settings = useQuery({ queryKey: keys.settings, queryFn: api.settings, staleTime: Infinity });
  const hubEndpoint = settings.data?.hub_endpoint;
  const repo = model.model_config.hugging_face.model_uri;
  // Scans seen to end here; until the refreshed list arrives it may still call them queued.
  const [ended, setEnded] = useState<ReadonlySet<string>>(new Set());
  // Announced by a live region that is always in the page, so screen readers hear start and end.
  const [announcement, setAnnouncement] = useState("");

  const start = useMutation({
    mutationFn: () => api.startFileScan(model.model_id, model.project_id),
    onSuccess: async (scan) => {
      queryClient.setQueryData(keys.fileScan(scan.file_scan_id), scan);
      setAnnouncement("File scan queued.");
      await refreshAfterScan(queryClient, scan);
    },
  });

  const list = scans.data?.file_scans ?? [];
  const watching = [start.data, list.find((s) => isActive(s.status)), model.latest_file_scan].find(
    (s): s is FileScan => !!s && isActive(s.status) && !ended.has(s.file_scan_id),
  );

  function onScanEnded(scan: FileScan) {
    setEnded((current) => new Set(current).add(scan.file_scan_id));
    setAnnouncement(
      scan.status === "failed"
        ? `File scan failed: ${scan.error ?? "no reason given"}`
        : `File scan finished: ${severityWord(scan.severity)}.`,
    );
    void refreshAfterScan(queryClient, scan);
  }

  const finished = list.filter((s) => !isActive(s.status) && !(watching && s.file_scan_id === watching.file_scan_id));
  const newest = finished[0];
  const verdict = finished.find((s) => s.status === "succeeded");
  const busy = Boolean(watching) || start.isPending;

  return (
    <div className="file-scan">
      <div className="tab-toolbar">
        <h2>File Scan</h2>
        {/* aria-disabled rather than disabled: a disabled button drops keyboard focus to the page while it runs. */}
        <button
          type="button"
          aria-disabled={busy}
          aria-busy={busy}
          onClick={() => !busy && start.mutate()}
          aria-describedby="run-scan-help"
        >
          Run file scan
        </button>
      </div>
      <p id="run-scan-help" className="muted">
        Reads the model’s files on the Hub at <code>{model.model_config.hugging_face.revision}</code> — only the bytes
        that can hold code — and checks them for code that would run when they are loaded.
      </p>
      <div aria-live="polite" role="status" className="visually-hidden">
        {announcement}
      </div>
      <ErrorNotice error={start.error} title="Could not start the file scan" />
      {watching && <ScanProgress scanId={watching.file_scan_id} onDone={onScanEnded} />}
      <ErrorNotice error={scans.error} title="Could not load the scans" />
      {scans.isPending && <p aria-busy="true">Loading scans…</p>}
      {scans.data && !newest && !watching && <p>This model has not been scanned yet. Run a file scan to check it.</p>}
      {newest?.status === "failed" && <FailedScan scan={newest} busy={busy} onRetry={() => !busy && start.mutate()} />}
      {verdict && (
        <>
          <Verdict scan={verdict} currentRules={rules.data?.version} earlier={verdict !== newest} />
          <ExportButtons scanId={verdict.file_scan_id} />
          {verdict.result && (
            <FilesTable report={verdict.result} repo={repo} commit={verdict.commit} hubEndpoint={hubEndpoint} />
          )}
          <Findings report={verdict.result} repo={repo} commit={verdict.commit} hubEndpoint={hubEndpoint} />
        </>
      )}
      {scans.data && finished.length > 0 && <EarlierScans scans={finished} repo={repo} hubEndpoint={hubEndpoint} />}
    </div>
  );
}

/** A failed scan with the server's reason (bad token, repository gone, a limit reached): what to fix, not a code. */
function FailedScan({ scan, busy, onRetry }: { scan: FileScan; busy: boolean; onRetry: () => void }) {
  return (
    <div className="notice notice-error" role="alert">
      <h3>
        <span className="badge badge-failed">
          <span aria-hidden="true">!</span> Scan failed
        </span>{" "}
        The latest file scan failed
      </h3>
      <p>{scan.error ?? "The server gave no reason."}</p>
      <p>
        <small>
          Started <Time iso={scan.started_at ?? scan.created_at} />, ended <Time iso={scan.finished_at} />. Fix the
          cause (a token, the revision) and retry.
        </small>
      </p>
      <button type="button" aria-disabled={busy} aria-busy={busy} onClick={onRetry}>
        Retry the scan
      </button>
    </div>
  );
}
