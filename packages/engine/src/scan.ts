import { remoteCodeFindings } from "./formats/remote-code.js";
import {
  HubAccessError,
  HubClient,
  hubSettingsFromEnv,
  type HubFile,
  type HubSecurity,
  type HubSettings,
} from "./hub/client.js";
import type { InventoryCache } from "./cache.js";
import { parseTarget, TargetError, type HubTarget } from "./hub/target.js";
import { HttpRangeSource, RequestGate } from "./source/http-source.js";
import type { FileInventory } from "./inventory.js";
import type { ScanLimits } from "./inspect.js";
import { Classifier } from "./policy/classify.js";
import { judge } from "./policy/judge.js";
import { loadBuiltinPack, withUserRules, SEVERITY_LABELS, type RulesPack, type Severity } from "./policy/rules.js";
import type { FileSecurityReport, HubVerdict, ScanReport, ScannedFile, ScanTarget } from "./report/types.js";
import {
  localItem,
  mapBounded,
  openCache,
  scanItem,
  type ActiveFile,
  type ItemResult,
  type WorkItem,
} from "./scan-item.js";
import { POOL_MIN_FILES, scanWithWorkers } from "./scan-pool.js";
import { collectPaths, CollectError, type SkippedPath } from "./walk/collect.js";

export class ScanError extends Error {}

/** Nothing matched the targets (an empty folder, everything excluded, a Hub path with no file): not a Pass. */
export class NothingToScanError extends ScanError {}

/**
 * How far a scan is. Reported after every file and, while files are being read, at least every
 * `progressIntervalMs` (so a multi-GB archive shows its bytes moving). The service exposes the same fields.
 */
export interface ScanProgress {
  filesDone: number;
  filesTotal: number;
  /** Bytes read (or transferred) so far by the scanners, finished and in-flight files together. */
  bytesRead: number;
  /** Bytes decompressed so far (ZIP members, gzip/xz/bz2/lz4/7z streams). */
  bytesDecompressed: number;
  /** Sum of the sizes of every file of the scan. */
  bytesTotal: number;
  /** Bytes read to hash files for the cache (apart from bytesRead). */
  bytesHashed: number;
  /** The file most recently started. */
  current?: string;
  /** Every file being read right now. */
  active: string[];
}

export interface ScanOptions {
  /** A rules pack; the built-in one by default. */
  pack?: RulesPack;
  /** Extra rules file(s) layered on the pack (`--rules`). */
  rulesFiles?: string[];
  limits?: Partial<ScanLimits>;
  /** Files scanned at the same time on each thread (I/O overlaps). */
  concurrency?: number;
  /**
   * Threads that may scan, this one included (default 1). With more than one and at least POOL_MIN_FILES local
   * files, worker threads scan local files too; the report is the same either way (but for `stats.threads`).
   */
  jobs?: number;
  /**
   * When the worker threads start: once the files left are estimated to take POOL_MIN_WORK_MS or more on this
   * thread ("when-worth-it", the default: a thread's warm-up must pay for itself), or before the first file.
   */
  startWorkers?: "when-worth-it" | "at-once";
  /** The worker thread script: the engine's own scan-worker.js by default (a bundle passes its copy). */
  workerUrl?: URL;
  /** Most files a walk may collect. */
  maxFiles?: number;
  onProgress?: (progress: ScanProgress) => void;
  /** How often progress is reported while files are being read (default 250 ms). */
  progressIntervalMs?: number;
  /** Globs of files and folders to leave out of folder walks (`--exclude`). */
  exclude?: string[];
  /** Also walk `.git/`, `node_modules/`, `__pycache__/`, `.hg/`, `.svn/` (skipped by default). */
  includeVcs?: boolean;
  /** Hugging Face Hub endpoint and token; HF_ENDPOINT and HF_TOKEN by default. */
  hub?: Partial<HubSettings>;
  /** Revision for every hub target (`--revision`). */
  revision?: string;
  /** Inventory cache folder; `false` disables the cache. Default: the user's cache folder. */
  cacheDir?: string | false;
  /** HTTP requests in flight at once for remote files. */
  httpConcurrency?: number;
}

/** Loads the classifier for a scan: the built-in pack (or a given one) plus user rules files. */
export async function loadClassifier(options: Pick<ScanOptions, "pack" | "rulesFiles"> = {}): Promise<Classifier> {
  let pack = options.pack ?? (await loadBuiltinPack());
  for (const file of options.rulesFiles ?? []) pack = await withUserRules(pack, file);
  return new Classifier(pack);
}

/**
 * Scans targets — local files and folders (recursively), `hf://org/repo[@rev]` and Hub URLs — and grades them.
 * Throws ScanError for a target that cannot be scanned at all (missing path, private repo without a token).
 */
export async function scanTargets(inputs: string[], options: ScanOptions = {}): Promise<ScanReport> {
  return (await scanTargetsWithInventories(inputs, options)).report;
}

/** The same as scanTargets, also returning each file's inventory (what a service stores to re-judge later). */
export async function scanTargetsWithInventories(
  inputs: string[],
  options: ScanOptions = {},
): Promise<{ report: ScanReport; inventories: FileInventory[] }> {
  const started = Date.now();
  const classifier = await loadClassifier(options);
  const hub = { ...hubSettingsFromEnv(), ...options.hub };
  const { items, targets, skipped } = await collectWork(inputs, options, hub);
  if (items.length === 0) throw new NothingToScanError(nothingToScanMessage(inputs, skipped));
  const cache = options.cacheDir === false ? undefined : await openCache(options.cacheDir);
  const progress = new ProgressTracker(items, options);
  let scanned: { results: ItemResult[]; threads: number };
  try {
    scanned = await scanItems(items, options, cache, progress);
  } finally {
    progress.stop();
  }
  const results = scanned.results.map((result, i) => ({ ...result, item: items[i]! }));
  const inventories = results.map((r) => r.inventory);
  addRemoteCodeFindings(inventories);
  const report = buildReport(inventories, classifier, Date.now() - started);
  report.scanned_files.forEach((file, i) => {
    const { cached, item } = results[i]!;
    if (cached) file.cached = true;
    const verdict = item.hub ? hubVerdict(item.hub, file.severity) : undefined;
    if (verdict) file.hub_verdict = verdict;
  });
  report.stats.cached_files = results.filter((r) => r.cached).length;
  report.stats.bytes_hashed = results.reduce((n, r) => n + r.hashed, 0);
  if (scanned.threads > 1) report.stats.threads = scanned.threads;
  const unreadable = results.filter((r) => r.unreadable).map((r) => ({ path: r.item.path, error: r.unreadable! }));
  if (unreadable.length > 0) report.unreadable_files = unreadable;
  if (skipped.length > 0) report.skipped_paths = skipped;
  report.scanned_files.forEach((file, i) => {
    const { item } = results[i]!;
    if (item.url) file.url = item.url;
  });
  if (targets.length > 0) report.targets = targets;
  return { report, inventories };
}

/**
 * Every item's result, in order: on this thread, or spread over worker threads when there are many local files
 * and `jobs` allows more than one thread.
 */
async function scanItems(
  items: WorkItem[],
  options: ScanOptions,
  cache: InventoryCache | undefined,
  progress: ProgressTracker,
): Promise<{ results: ItemResult[]; threads: number }> {
  const concurrency = options.concurrency ?? 4;
  const scanHere = async (item: WorkItem): Promise<ItemResult> => {
    const result = await scanItem(item, options.limits, cache, progress.start(item.path));
    progress.finish(item.path, result.inventory.bytes_read, result.hashed);
    return result;
  };
  const jobs = options.jobs ?? 1;
  const local = items.reduce((n, item) => n + (item.local ? 1 : 0), 0);
  if (jobs <= 1 || local < POOL_MIN_FILES)
    return { results: await mapBounded(items, concurrency, scanHere), threads: 1 };
  return scanWithWorkers(
    items,
    {
      jobs,
      workerUrl: options.workerUrl ?? new URL("./scan-worker.js", import.meta.url),
      limits: options.limits,
      cacheDir: cache ? cache.dir : false,
      concurrency,
      progressIntervalMs: options.onProgress ? (options.progressIntervalMs ?? 250) : undefined,
      startAtOnce: options.startWorkers === "at-once",
    },
    {
      scanHere: (index) => scanHere(items[index]!),
      started: (index) => progress.start(items[index]!.path),
      finished: (index, result) => progress.finish(items[index]!.path, result.inventory.bytes_read, result.hashed),
    },
  );
}

/**
 * Judges stored inventories again with another rules pack, keeping what the first scan learnt about the sources
 * (targets, cache use, the Hub's verdicts): nothing is read.
 */
export function rejudgeReport(previous: ScanReport, inventories: FileInventory[], classifier: Classifier): ScanReport {
  const report = buildReport(inventories, classifier, previous.stats.duration_ms);
  const before = new Map(previous.scanned_files.map((f) => [f.path, f]));
  for (const file of report.scanned_files) {
    const old = before.get(file.path);
    if (old?.cached) file.cached = true;
    if (old?.hub_verdict) file.hub_verdict = hubVerdictAgain(old.hub_verdict, file.severity);
  }
  report.stats.cached_files = previous.stats.cached_files;
  if (previous.stats.bytes_hashed !== undefined) report.stats.bytes_hashed = previous.stats.bytes_hashed;
  for (const file of report.scanned_files) {
    const url = before.get(file.path)?.url;
    if (url) file.url = url;
  }
  if (previous.unreadable_files) report.unreadable_files = previous.unreadable_files;
  if (previous.skipped_paths) report.skipped_paths = previous.skipped_paths;
  if (previous.targets) report.targets = previous.targets;
  return report;
}

function hubVerdictAgain(verdict: HubVerdict, ours: Severity): HubVerdict {
  const agrees = verdict.severity !== undefined ? verdict.severity === ours : verdict.safe === ours < 3;
  return { ...verdict, agrees };
}

/**
 * `.py` files beside model weights run with `trust_remote_code=True`: a repo-level finding, so it is added once
 * every file of the scan is known (cached inventories included).
 */
function addRemoteCodeFindings(inventories: FileInventory[]): void {
  const byPath = new Map(inventories.map((i) => [i.path, i]));
  for (const finding of remoteCodeFindings(inventories)) {
    const inventory = byPath.get(finding.path);
    if (inventory && !inventory.indicators.some((i) => i.id === finding.id))
      inventory.indicators.push({ id: finding.id, message: finding.message, member: "" });
  }
}

/** Scans local files and folders; the same as scanTargets for local paths. */
export const scanPaths = scanTargets;

/**
 * Reports progress after every file and, while any file is being read, on a timer: the bytes of in-flight files
 * are read from their sources and decompression counters, so one huge archive still shows movement.
 */
class ProgressTracker {
  private readonly active = new Map<string, ActiveFile>();
  private readonly timer: NodeJS.Timeout | undefined;
  private filesDone = 0;
  private bytesDone = 0;
  private hashed = 0;
  private decompressedDone = 0;
  private current: string | undefined;
  private readonly bytesTotal: number;

  constructor(
    private readonly items: WorkItem[],
    private readonly options: ScanOptions,
  ) {
    this.bytesTotal = items.reduce((n, i) => n + i.size, 0);
    if (options.onProgress) {
      this.timer = setInterval(() => this.emit(), options.progressIntervalMs ?? 250);
      this.timer.unref();
    }
  }

  start(path: string): ActiveFile {
    const file: ActiveFile = { counters: { members: 0, decompressed: 0 } };
    this.active.set(path, file);
    this.current = path;
    return file;
  }

  finish(path: string, bytesRead: number, hashed: number): void {
    this.decompressedDone += this.active.get(path)?.counters.decompressed ?? 0;
    this.active.delete(path);
    this.filesDone++;
    this.bytesDone += bytesRead;
    this.hashed += hashed;
    this.emit();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  private emit(): void {
    if (!this.options.onProgress) return;
    let reading = 0;
    let decompressing = 0;
    for (const file of this.active.values()) {
      reading += file.source?.bytesRead ?? 0;
      decompressing += file.counters.decompressed;
    }
    this.options.onProgress({
      filesDone: this.filesDone,
      filesTotal: this.items.length,
      bytesRead: this.bytesDone + reading,
      bytesDecompressed: this.decompressedDone + decompressing,
      bytesTotal: this.bytesTotal,
      bytesHashed: this.hashed,
      ...(this.current ? { current: this.current } : {}),
      active: [...this.active.keys()],
    });
  }
}

function nothingToScanMessage(inputs: string[], skipped: SkippedPath[]): string {
  const left =
    skipped.length > 0
      ? ` (${skipped.length} path${skipped.length === 1 ? "" : "s"} skipped: ${summarizeSkipped(skipped)})`
      : "";
  return `nothing to scan: no file in ${inputs.join(", ")}${left}`;
}

function summarizeSkipped(skipped: SkippedPath[]): string {
  const counts = new Map<string, number>();
  for (const s of skipped) counts.set(s.reason, (counts.get(s.reason) ?? 0) + 1);
  return [...counts].map(([reason, n]) => `${n} ${reason}`).join(", ");
}

async function collectWork(
  inputs: string[],
  options: ScanOptions,
  hub: HubSettings,
): Promise<{ items: WorkItem[]; targets: ScanTarget[]; skipped: SkippedPath[] }> {
  const items: WorkItem[] = [];
  const targets: ScanTarget[] = [];
  const skipped: SkippedPath[] = [];
  const gate = new RequestGate(options.httpConcurrency ?? 8);
  for (const input of inputs) {
    let target;
    try {
      target = parseTarget(input, {
        ...(options.revision ? { revision: options.revision } : {}),
        endpoint: hub.endpoint,
      });
    } catch (e) {
      throw new ScanError((e as TargetError).message);
    }
    if (target.kind === "local") {
      const collected = await collectLocal([target.path], options);
      for (const path of collected.files) items.push(localItem(path));
      skipped.push(...collected.skipped);
      continue;
    }
    const client = new HubClient(hub);
    let sha: string;
    let files: HubFile[];
    try {
      sha = await client.resolveRevision(target);
      files = await client.listFiles(target, sha);
    } catch (e) {
      throw new ScanError(e instanceof HubAccessError ? e.message : `${input}: ${(e as Error).message}`);
    }
    targets.push({
      input,
      repo: target.repo,
      repo_type: target.repoType,
      revision: target.revision,
      commit: sha,
      endpoint: hub.endpoint,
      files: files.length,
    });
    for (const file of files) items.push(hubItem(client, target, sha, file, gate, hub.endpoint));
  }
  return { items, targets, skipped };
}

function hubItem(
  client: HubClient,
  target: HubTarget,
  sha: string,
  file: HubFile,
  gate: RequestGate,
  endpoint: string,
): WorkItem {
  const prefix = target.repoType === "model" ? "" : `${target.repoType}s/`;
  const path = `hf://${prefix}${target.repo}@${sha.slice(0, 12)}/${file.path}`;
  const encodedPath = file.path.split("/").map(encodeURIComponent).join("/");
  return {
    path,
    size: file.size,
    url: `${endpoint.replace(/\/+$/, "")}/${prefix}${target.repo}/blob/${sha}/${encodedPath}`,
    ...(file.lfsOid ? { sha256: file.lfsOid } : {}),
    ...(file.security ? { hub: file.security } : {}),
    open: () =>
      Promise.resolve(
        new HttpRangeSource(client.fileUrl(target, sha, file.path), file.size, path, {
          ...(client.settings.token ? { token: client.settings.token } : {}),
          tokenOrigin: client.origin,
          gate,
          ...(client.settings.fetch ? { fetch: client.settings.fetch } : {}),
        }),
      ),
    key: () => {
      const key = file.lfsOid ? `sha256:${file.lfsOid}` : file.oid ? `git:${file.oid}` : undefined;
      return Promise.resolve(key ? { key, bytesRead: 0 } : { bytesRead: 0 });
    },
  };
}

const HUB_LEVELS: Record<string, Severity> = { innocuous: 1, suspicious: 2, dangerous: 3 };

/** The Hub's own pickle-import verdict next to ours. */
function hubVerdict(security: HubSecurity, ours: Severity): HubVerdict | undefined {
  if (!security.highestSafetyLevel)
    return security.safe === undefined ? undefined : { safe: security.safe, agrees: security.safe === ours < 3 };
  const severity = HUB_LEVELS[security.highestSafetyLevel]!;
  return {
    level: security.highestSafetyLevel,
    severity,
    agrees: severity === ours,
    ...(security.safe !== undefined ? { safe: security.safe } : {}),
  };
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
      ...(inventory.sha256 ? { sha256: inventory.sha256 } : {}),
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

/** Expands folders recursively (default skips, no symlink out of a root), in a stable order. */
export async function collectFiles(paths: string[], maxFiles: number): Promise<string[]> {
  return (await collectLocal(paths, { maxFiles })).files;
}

async function collectLocal(paths: string[], options: Pick<ScanOptions, "maxFiles" | "exclude" | "includeVcs">) {
  try {
    return await collectPaths(paths, {
      maxFiles: options.maxFiles ?? 1_000_000,
      ...(options.exclude ? { exclude: options.exclude } : {}),
      ...(options.includeVcs ? { includeVcs: true } : {}),
    });
  } catch (e) {
    throw e instanceof CollectError ? new ScanError(e.message) : e;
  }
}
