import { writeFile } from "node:fs/promises";
import pc from "picocolors";
import cliProgress from "cli-progress";
import {
  InventoryCache,
  renderText,
  scanTargets,
  toSarif,
  type ScanProgress,
  type ScanReport,
  type Severity,
} from "@modelvet/engine";

export interface ScanCommandOptions {
  format: "text" | "json" | "sarif";
  output?: string;
  failOn: "warning" | "alert";
  rules: string[];
  quiet?: boolean;
  progress: boolean;
  concurrency: number;
  timeout: number;
  revision?: string;
  token?: string;
  cacheDir?: string;
  cache: boolean;
}

export async function runScan(targets: string[], options: ScanCommandOptions, version: string): Promise<number> {
  const bar = options.progress && process.stderr.isTTY ? progressBar() : undefined;
  let report: ScanReport;
  try {
    report = await scanTargets(targets, {
      rulesFiles: options.rules,
      concurrency: options.concurrency,
      limits: { fileTimeoutMs: options.timeout * 1000 },
      ...(options.revision ? { revision: options.revision } : {}),
      ...(options.token ? { hub: { token: options.token } } : {}),
      cacheDir: options.cache ? (options.cacheDir ?? InventoryCache.defaultDir()) : false,
      ...(bar ? { onProgress: bar.update } : {}),
    });
  } finally {
    bar?.stop();
  }
  const text = render(report, options, version);
  if (options.output) await writeFile(options.output, text);
  else process.stdout.write(text);
  const threshold: Severity = options.failOn === "warning" ? 2 : 3;
  return report.severity >= threshold ? 1 : 0;
}

function render(report: ScanReport, options: ScanCommandOptions, version: string): string {
  if (options.format === "json") return JSON.stringify(report, null, 2) + "\n";
  if (options.format === "sarif") return JSON.stringify(toSarif(report, version), null, 2) + "\n";
  const colour = !options.output && process.stdout.isTTY === true && !process.env.NO_COLOR;
  const paint = (severity: Severity, text: string): string =>
    !colour ? text : severity === 3 ? pc.red(pc.bold(text)) : severity === 2 ? pc.yellow(text) : pc.green(text);
  return renderText(report, { paint, dim: colour ? pc.dim : (t) => t, showPass: !options.quiet });
}

/** A bar on standard error, shown only on a terminal; silent for small scans that finish at once. */
function progressBar(): { update: (p: ScanProgress) => void; stop: () => void } {
  const started = Date.now();
  let bar: cliProgress.SingleBar | undefined;
  return {
    update(p) {
      const bytes = p.bytesRead;
      if (!bar && Date.now() - started < 500) return;
      if (!bar) {
        bar = new cliProgress.SingleBar(
          {
            format: "scanning [{bar}] {value}/{total} files | {read} read",
            hideCursor: true,
            clearOnComplete: true,
            stream: process.stderr,
          },
          cliProgress.Presets.shades_classic,
        );
        bar.start(p.filesTotal, 0, { read: "0 B" });
      }
      bar.update(p.filesDone, { read: `${(bytes / 1024 / 1024).toFixed(1)} MiB` });
    },
    stop() {
      bar?.stop();
    },
  };
}
