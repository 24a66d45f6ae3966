import type { FileScan, Severity } from "../api/types";

// Every state carries a word and a shape, not only a colour, so it reads the same in greyscale, to colour-blind
// reviewers and to screen readers (the icon is decorative; the word is the content).
const LOOK: Record<string, { word: string; icon: string; tone: string }> = {
  3: { word: "Alert", icon: "✖", tone: "alert" },
  2: { word: "Warning", icon: "▲", tone: "warning" },
  1: { word: "Pass", icon: "✔", tone: "pass" },
  none: { word: "Not scanned", icon: "○", tone: "none" },
  queued: { word: "Queued", icon: "…", tone: "busy" },
  running: { word: "Scanning", icon: "↻", tone: "busy" },
  failed: { word: "Scan failed", icon: "!", tone: "failed" },
};

export function severityWord(severity: Severity | null | undefined): string {
  return LOOK[severity ?? "none"]!.word;
}

function Badge({ look, large }: { look: keyof typeof LOOK; large?: boolean }) {
  const { word, icon, tone } = LOOK[look]!;
  return (
    <span className={`badge badge-${tone}${large ? " badge-large" : ""}`}>
      <span aria-hidden="true">{icon}</span> {word}
    </span>
  );
}

export function SeverityBadge({ severity, large }: { severity: Severity | null | undefined; large?: boolean }) {
  return <Badge look={severity ? String(severity) : "none"} large={large} />;
}

/** The badge for a model's latest File Scan: its severity once finished, otherwise what the scan is doing. */
export function ScanBadge({ scan }: { scan: FileScan | null | undefined }) {
  if (!scan) return <Badge look="none" />;
  if (scan.status === "succeeded") return <SeverityBadge severity={scan.severity} />;
  return <Badge look={scan.status} />;
}
