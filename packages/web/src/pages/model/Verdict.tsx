import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api } from "../../api/client";
import type { FileScan, ScanReport } from "../../api/types";
import { ErrorNotice } from "../../components/ErrorNotice";
import { plural } from "../../components/format";
import { SeverityBadge } from "../../components/SeverityBadge";
import { ScanFacts } from "./ScanFacts";
import { refreshAfterScan } from "./scan-state";

const MEANING: Record<number, string> = {
  3: "code that would run when the model is loaded was found. Do not load this model.",
  2: "something suspicious or unreadable was found. Review the findings before loading the model.",
  1: "no code that would run on load was found.",
};

function fileCounts(report: ScanReport | undefined): string {
  if (!report) return "";
  const files = report.scanned_files;
  const flagged = files.filter((f) => f.severity >= 2).length;
  return ` ${plural(files.length, "file")} scanned, ${flagged} with findings.`;
}

/** The latest severity in words and colour, what it means, when and with which rules; Re-judge when rules moved on. */
export function Verdict({ scan, currentRules, earlier }: { scan: FileScan; currentRules?: string; earlier?: boolean }) {
  const queryClient = useQueryClient();
  const rejudge = useMutation({
    mutationFn: () => api.rejudge(scan.file_scan_id),
    onSuccess: (updated) => refreshAfterScan(queryClient, updated),
  });
  return (
    <section aria-labelledby="verdict-title" className={`verdict verdict-${scan.severity ?? 0}`}>
      <h3 id="verdict-title">
        Latest result: <SeverityBadge severity={scan.severity} large />
      </h3>
      <p>
        <strong>{scan.severity_label}</strong>: {MEANING[scan.severity ?? 0] ?? ""}
        {fileCounts(scan.result)}
        {earlier && " This result is from the last scan that finished; the newest scan failed (see above)."}
      </p>
      <ScanFacts scan={scan} />
      {scan.rules_outdated && (
        <div className="notice notice-warn">
          <p>
            <strong>Outdated rules:</strong> this result was judged with rules <code>{scan.rules_version}</code>
            {currentRules && (
              <>
                ; the server now has <code>{currentRules}</code>
              </>
            )}
            . Re-judging applies the current rules to the stored findings without downloading the model again.
          </p>
          <button type="button" aria-busy={rejudge.isPending} onClick={() => !rejudge.isPending && rejudge.mutate()}>
            Re-judge
          </button>
          <ErrorNotice error={rejudge.error} title="Could not re-judge" />
        </div>
      )}
    </section>
  );
}
