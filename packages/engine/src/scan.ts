import { lstat, opendir, stat } from "node:fs/promises";
import { join } from "node:path";
import type { FileInventory } from "./inventory.js";
import { DEFAULT_SCAN_LIMITS, InspectContext, inspectSource, type ScanLimits } from "./inspect.js";
import { Classifier } from "./policy/classify.js";
import { judge } from "./policy/judge.js";
import { loadBuiltinPack, withUserRules, SEVERITY_LABELS, type RulesPack, type Severity } from "./policy/rules.js";
import type { FileSecurityReport, ScanReport, ScannedFile } from "./report/types.js";
import { CachingSource, FileSource, type ByteSource } from "./source/byte-source.js";

export class ScanError extends Error {}

export interface ScanProgress {
  filesDone: number;
  filesTotal: number;
  bytesRead: number;
  current?: string;
}

export interface ScanOptions {
  /** A rules pack; the built-in one by default. */
  pack?: RulesPack;
  /** Extra rules file(s) layered on the pack (`--rules`). */
  rulesFiles?: string[];
  limits?: Partial<ScanLimits>;
  /** Files scanned at the same time (I/O overlaps; parsing is single-threaded). */
  concurrency?: number;
  /** Most files a walk may collect. */
  maxFiles?: number;
  onProgress?: (progress: ScanProgress) => void;
}

/** Loads the classifier for a scan: the built-in pack (or a given one) plus user rules files. */
export async function loadClassifier(options: Pick<ScanOptions, "pack" | "rulesFiles"> = {}): Promise<Classifier> {
  let pack = options.pack ?? (await loadBuiltinPack());
  for (const file of options.rulesFiles ?? []) pack = await withUserRules(pack, file);
  return new Classifier(pack);
}

/** Scans files and folders (recursively) and grades them. Throws ScanError for a path that does not exist. */
export async function scanPaths(paths: string[], options: ScanOptions = {}): Promise<ScanReport> {
  const started = Date.now();
  const classifier = await loadClassifier(options);
  const files = await collectFiles(paths, options.maxFiles ?? 1_000_000);
  const inventories = await mapBounded(files, options.concurrency ?? 4, async (file, _i, done) => {
    const inventory = await inspectFile(file, options.limits);
    options.onProgress?.({
      filesDone: done() + 1,
      filesTotal: files.length,
      bytesRead: inventory.bytes_read,
      current: file,
    });
    return inventory;
  });
  return buildReport(inventories, classifier, Date.now() - started);
}

/** Scans one already-open source (library use: buffers, HTTP sources, members). */
export async function inspect(source: ByteSource, limits?: Partial<ScanLimits>): Promise<FileInventory> {
  const inventory = emptyInventory(source.name, source.size);
  const ctx = new InspectContext(inventory, { ...DEFAULT_SCAN_LIMITS, ...limits });
  try {
    await inspectSource(new CachingSource(source), ctx);
  } catch (e) {
    recordFailure(inventory, ctx, e);
  }
  inventory.bytes_read = source.bytesRead;
  return inventory;
}

/** Grades inventories with a classifier: the report of ARCHITECTURE.md's result shape. */
export function buildReport(inventories: FileInventory[], classifier: Classifier, durationMs: number): ScanReport {
  const reports: FileSecurityReport[] = [];
  const scanned: ScannedFile[] = [];
  let severity: Severity = 1;
  let bytesTotal = 0;
  let bytesRead = 0;
  for (const inventory of inventories) {
    const report = judge(inventory, classifier);
    severity = Math.max(severity, report.severity) as Severity;
    bytesTotal += inventory.size;
    bytesRead += inventory.bytes_read;
    scanned.push({
      path: inventory.path,
      severity: report.severity,
      formats: inventory.formats,
      bytes_read: inventory.bytes_read,
      size: inventory.size,
    });
    if (report.unsafe_dependencies.length > 0 || report.indicators.length > 0 || report.errors.length > 0)
      reports.push(report);
  }
  return {
    severity,
    severity_label: SEVERITY_LABELS[severity],
    rules_version: classifier.version,
    file_security_reports: reports,
    scanned_files: scanned,
    stats: { files: inventories.length, bytes_total: bytesTotal, bytes_read: bytesRead, duration_ms: durationMs },
  };
}

async function inspectFile(path: string, limits?: Partial<ScanLimits>): Promise<FileInventory> {
  let source: FileSource;
  try {
    source = await FileSource.open(path);
  } catch (e) {
    const inventory = emptyInventory(path, 0);
    const message = `cannot read file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`;
    inventory.errors.push(message);
    inventory.indicators.push({ id: "scan.error", message, member: "" });
    return inventory;
  }
  try {
    return await inspect(source, limits);
  } finally {
    await source.close();
  }
}

function emptyInventory(path: string, size: number): FileInventory {
  return { path, size, formats: [], imports: [], indicators: [], errors: [], bytes_read: 0 };
}

/** A crash inside a format is a bug, but the file must still fail closed: Warning with the reason. */
function recordFailure(inventory: FileInventory, ctx: InspectContext, e: unknown): void {
  const message = `scan failed${ctx.member ? ` in ${ctx.member}` : ""}: ${(e as Error)?.message ?? String(e)}`;
  inventory.errors.push(message);
  ctx.indicate("scan.error", message);
}

/** Expands folders recursively (symlinked folders are not followed), in a stable order. */
export async function collectFiles(paths: string[], maxFiles: number): Promise<string[]> {
  const out: string[] = [];
  for (const path of paths) {
    let info;
    try {
      info = await stat(path);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new ScanError(
        code === "ENOENT"
          ? `no such file or folder: ${path}`
          : `cannot access ${path}: ${code ?? (e as Error).message}`,
      );
    }
    if (info.isDirectory()) await walk(path, out, maxFiles);
    else if (info.isFile()) out.push(path);
    // Opening a FIFO or a device could block forever or never end: only regular files are scanned.
    else throw new ScanError(`not a regular file or folder: ${path}`);
    if (out.length > maxFiles) throw new ScanError(`more than ${maxFiles} files to scan; narrow the paths`);
  }
  return out;
}

async function walk(root: string, out: string[], maxFiles: number): Promise<void> {
  const pending = [root];
  while (pending.length > 0) {
    const dir = pending.pop()!;
    const names: string[] = [];
    try {
      for await (const entry of await opendir(dir)) names.push(entry.name);
    } catch (e) {
      throw new ScanError(`cannot list ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    names.sort();
    const subdirs: string[] = [];
    for (const name of names) {
      const full = join(dir, name);
      const info = await lstat(full).catch(() => undefined);
      if (!info) continue;
      if (info.isDirectory()) subdirs.push(full);
      else if (info.isFile()) out.push(full);
      else if (info.isSymbolicLink()) {
        const target = await stat(full).catch(() => undefined);
        if (target?.isFile()) out.push(full);
      }
      if (out.length > maxFiles) throw new ScanError(`more than ${maxFiles} files to scan; narrow the paths`);
    }
    pending.push(...subdirs.reverse());
  }
}

/** Maps with at most `limit` calls in flight, keeping the input order. */
async function mapBounded<T, R>(
  items: T[],
  limit: number,
  fn: (item: T, index: number, done: () => number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let finished = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]!, index, () => finished);
      finished++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
