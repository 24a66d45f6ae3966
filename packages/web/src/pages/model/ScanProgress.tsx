import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useEffectEvent } from "react";
import { ApiError, api, keys } from "../../api/client";
import type { FileScan, Model } from "../../api/types";
import { ErrorNotice } from "../../components/ErrorNotice";
import { formatBytes, plural } from "../../components/format";
import { Time } from "../../components/Time";
import { isActive } from "./scan-state";

const POLL_MS = 1000;

/** Live progress of one File Scan job, polled until it ends; then `onDone` hands the final state to the tab. */
export function ScanProgress({ scanId, onDone }: { scanId: string; onDone: (scan: FileScan) => void }) {
  const queryClient = useQueryClient();
  const scan = useQuery({
    queryKey: keys.fileScan(scanId),
    queryFn: async () => {
      const latest = await api.fileScan(scanId);
      // Keep the model's "Latest File Scan" badge in step with the progress shown below it.
      queryClient.setQueryData<Model>(keys.model(latest.model_id), (model) =>
        model ? { ...model, latest_file_scan: latest } : model,
      );
      return latest;
    },
    refetchInterval: (query) => {
      const { data, error } = query.state;
      // A 4xx will not heal by asking again; a dropped connection might.
      if (error instanceof ApiError && error.status >= 400 && error.status < 500) return false;
      return data && !isActive(data.status) ? false : POLL_MS;
    },
  });

  // An effect event: the parent's callback may change every render without re-firing "done" for the same data.
  const finish = useEffectEvent((final: FileScan) => onDone(final));
  useEffect(() => {
    if (scan.data && !isActive(scan.data.status)) finish(scan.data);
  }, [scan.data]);

  const s = scan.data;
  const { files_done = 0, files_total = 0, bytes_read = 0 } = s?.progress ?? {};
  return (
    <article className="scan-progress" aria-labelledby="scan-progress-title">
      <h3 id="scan-progress-title">{s?.status === "running" ? "File scan running" : "File scan queued"}</h3>
      {files_total > 0 ? (
        <progress value={files_done} max={files_total} aria-labelledby="scan-progress-text" />
      ) : (
        // No total yet (queued, or listing the repository): an indeterminate bar rather than a false 0 %.
        <progress aria-labelledby="scan-progress-text" />
      )}
      <p id="scan-progress-text">
        {files_total > 0
          ? `${files_done} of ${plural(files_total, "file")} scanned, ${formatBytes(bytes_read)} read`
          : s?.status === "running"
            ? `Listing the repository… ${formatBytes(bytes_read)} read`
            : "Waiting for a worker…"}
        {s?.started_at && (
          <>
            {" "}
            · started <Time iso={s.started_at} />
          </>
        )}
      </p>
      <ErrorNotice error={scan.error} title="Could not follow the scan" />
    </article>
  );
}
