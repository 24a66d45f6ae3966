import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import pc from "picocolors";
import type cliProgress from "cli-progress";
import {
  formatBytes,
  renderText,
  scanTargets,
  toCycloneDx,
  toSarif,
  type ScanProgress,
  type ScanReport,
  type Severity,
} from "@modelvet/engine";

export interface ScanCommandOptions {
  format: "text" | "json" | "sarif" | "cyclonedx";
  output?: string;
  failOn: "warning" | "alert";
  rules: string[];
  quiet?: boolean;
  progress: boolean;
  concurrency: number;
  jobs?: number;
  timeout: number;
  maxDecompressed?: number;
  maxMemberDecompressed?: number;
  revision?: string;
  token?: string;
  cacheDir?: string;
  cache: boolean;
  exclude: string[];
  includeVcs?: boolean;
  allowUnreadable?: boolean;
  sarifCategory?: string;
}

export async function runScan(targets: string[], options: ScanCommandOptions, version: string): Promise<number> {
  // The bar's library loads only when a terminal will show it (never in CI, pipes or hooks).
  const bar =
    options.progress && process.stderr.isTTY ? progressBar((await import("cli-progress")).default) : undefined;
  const startTime = new Date();
  let report: ScanReport;
  try {
    report = await scanTargets(targets, {
      rulesFiles: options.rules,
      concurrency: options.concurrency,
      // Threads asked for start at once; by default they start only when the work proves large enough.
      jobs: options.jobs ?? defaultJobs(),
      startWorkers: options.jobs ? "at-once" : "when-worth-it",
      ...bundledWorker(),
      limits: {
        fileTimeoutMs: options.timeout * 1000,
        ...(options.maxDecompressed ? { maxDecompressedBytes: options.maxDecompressed } : {}),
        ...(options.maxMemberDecompressed ? { maxMemberDecompressedBytes: options.maxMemberDecompressed } : {}),
      },
      ...(options.revision ? { revision: options.revision } : {}),
      ...(options.token ? { hub: { token: options.token } } : {}),
      // An inventory read under other budgets is not the default one: custom budgets neither read nor fill the cache.
      // Without --cache-dir the engine uses the user's cache folder.
      ...(options.cache && !options.maxDecompressed && !options.maxMemberDecompressed
        ? options.cacheDir
          ? { cacheDir: options.cacheDir }
          : {}
        : { cacheDir: false as const }),
      exclude: options.exclude,
      ...(options.includeVcs ? { includeVcs: true } : {}),
      ...(bar ? { onProgress: bar.update } : {}),
    });
  } finally {
    bar?.stop();
  }
  const code = exitCode(report, options);
  const text = await render(report, options, version, { exitCode: code, startTime, endTime: new Date() });
  if (options.output) await writeFile(options.output, text);
  else process.stdout.write(text);
  const unreadable = report.unreadable_files?.length ?? 0;
  if (unreadable > 0 && !options.allowUnreadable)
    process.stderr.write(
      `modelvet: ${unreadable} file${unreadable === 1 ? "" : "s"} could not be read (exit 2; --allow-unreadable to judge the rest)\n`,
    );
  return code;
}

/** One thread per CPU, at most 4: beyond that a folder of small files gains little and memory grows per thread. */
function defaultJobs(): number {
  return Math.min(4, availableParallelism());
}

/**
 * The worker thread script of the bundled build (bin/scan-worker.js runs the bundle scripts/bundle-cli.mjs wrote,
 * from its code cache, so a worker compiles nothing a run compiled before); without a bundle the engine's own.
 */
function bundledWorker(): { workerUrl?: URL } {
  return existsSync(new URL("./bundle/modelvet.cjs", import.meta.url))
    ? { workerUrl: new URL("../bin/scan-worker.js", import.meta.url) }
    : {};
}

/** 2 when a file could not be read (unless allowed), else 1 at or above the --fail-on threshold, else 0. */
function exitCode(report: ScanReport, options: ScanCommandOptions): number {
  if ((report.unreadable_files?.length ?? 0) > 0 && !options.allowUnreadable) return 2;
  const threshold: Severity = options.failOn === "warning" ? 2 : 3;
  return report.severity >= threshold ? 1 : 0;
}

async function render(
  report: ScanReport,
  options: ScanCommandOptions,
  version: string,
  ended: { exitCode: number; startTime: Date; endTime: Date },
): Promise<string> {
  if (options.format === "json") return JSON.stringify(report, null, 2) + "\n";
  if (options.format === "sarif") {
    const invocation = { ...ended, successful: ended.exitCode !== 2 };
    const sarif = toSarif(report, version, {
      invocation,
      ...(options.sarifCategory ? { category: options.sarifCategory } : {}),
    });
    return JSON.stringify(sarif, null, 2) + "\n";
  }
  if (options.format === "cyclonedx") {
    // The engine loads the CycloneDX library only for this format.
    return (await toCycloneDx(report, version)) + "\n";
  }
  const colour = !options.output && process.stdout.isTTY === true && !process.env.NO_COLOR;
  const paint = (severity: Severity, text: string): string =>
    !colour ? text : severity === 3 ? pc.red(pc.bold(text)) : severity === 2 ? pc.yellow(text) : pc.green(text);
  return renderText(report, { paint, dim: colour ? pc.dim : (t) => t, showPass: !options.quiet });
}

/**
 * A bar on standard error, shown only on a terminal and after half a second. It follows bytes, not files, so a
 * single large archive moves too: the engine reports in-flight reads at least every 250 ms.
 */
function progressBar(bars: typeof cliProgress): { update: (p: ScanProgress) => void; stop: () => void } {
  const started = Date.now();
  let bar: cliProgress.SingleBar | undefined;
  return {
    update(p) {
      if (!bar && Date.now() - started < 500) return;
      const payload = {
        files: `${p.filesDone}/${p.filesTotal} files`,
        read: formatBytes(p.bytesRead),
        size: formatBytes(p.bytesTotal),
        inflated: p.bytesDecompressed > 0 ? `, ${formatBytes(p.bytesDecompressed)} decompressed` : "",
        current: p.current ? ` | ${p.current.length > 40 ? "…" + p.current.slice(-39) : p.current}` : "",
      };
      if (!bar) {
        bar = new bars.SingleBar(
          {
            format: "scanning [{bar}] {files} | {read} of {size} read{inflated}{current}",
            hideCursor: true,
            clearOnComplete: true,
            stream: process.stderr,
            // Redraw on every update: the engine already paces them, and a terminal must see bytes move.
            fps: 10,
            etaBuffer: 50,
          },
          bars.Presets.shades_classic,
        );
        bar.start(Math.max(p.bytesTotal, 1), 0, payload);
      }
      bar.update(Math.min(p.bytesRead, Math.max(p.bytesTotal, 1)), payload);
    },
    stop() {
      bar?.stop();
    },
  };
}
