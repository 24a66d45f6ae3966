import { useMutation } from "@tanstack/react-query";
import { downloadReport } from "../../api/client";
import type { ReportFormat } from "../../api/types";
import { ErrorNotice } from "../../components/ErrorNotice";

const FORMATS: Array<{ format: ReportFormat; label: string; help: string }> = [
  { format: "json", label: "JSON", help: "the full result, as the API and CLI give it" },
  { format: "sarif", label: "SARIF", help: "SARIF 2.1.0, for code-scanning dashboards" },
  { format: "cyclonedx", label: "CycloneDX", help: "a CycloneDX 1.6 ML-BOM of the files and findings" },
];

/** Downloads of a finished scan's report (GET /file-scans/{id}/report?format=…). */
export function ExportButtons({ scanId }: { scanId: string }) {
  const download = useMutation({ mutationFn: (format: ReportFormat) => downloadReport(scanId, format) });
  return (
    <section className="exports" aria-label="Export this scan">
      <span className="muted">Export:</span>
      {FORMATS.map(({ format, label, help }) => (
        <button
          key={format}
          type="button"
          className="secondary outline compact"
          title={help}
          aria-busy={download.isPending && download.variables === format}
          onClick={() => download.mutate(format)}
        >
          {label}
        </button>
      ))}
      <ErrorNotice error={download.error} title="Could not download the report" />
    </section>
  );
}
