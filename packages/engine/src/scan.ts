import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import type { InventoryCache } from "./cache.js";
import { remoteCodeFindings } from "./formats/remote-code.js";
import {
  HubAccessError,
  HubClient,
  hubSettingsFromEnv,
  type HubFile,
  type HubSecurity,
  type HubSettings,
} from "./hub/client.js";
import { parseTarget, TargetError, type HubTarget } from "./hub/target.js";
import { HttpRangeSource, RequestGate } from "./source/http-source.js";
import type { FileInventory } from "./inventory.js";
import { DEFAULT_SCAN_LIMITS, InspectContext, inspectSource, type ScanLimits } from "./inspect.js";
import { Classifier } from "./policy/classify.js";
import { judge } from "./policy/judge.js";
import { loadBuiltinPack, withUserRules, SEVERITY_LABELS, type RulesPack, type Severity } from "./policy/rules.js";
import type { FileSecurityReport, HubVerdict, ScanReport, ScannedFile, ScanTarget } from "./report/types.js";
import { BufferSource, CachingSource, FileSource, readSmallFile, type ByteSource } from "./source/byte-source.js";
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
  /** Files scanned at the same time (I/O overlaps; parsing is single-threaded). */
  concurrency?: number;
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

/** One file to scan, local or remote, with how to open it and the content key its inventory is cached under. */
interface WorkItem {
  path: string;
  size: number;
  open(): Promise<ByteSource>;
  /** Content key (`sha256:…`, `git:…`), computed lazily for local files (hashing reads them: `bytesRead`). */
  key(): Promise<ContentKey>;
  sha256?: string;
  hub?: HubSecurity;
  /** Web address of a Hub file at the scanned commit. */
  url?: string;
}

/** Counters of one file being scanned, polled for progress. */
interface ActiveFile {
  source?: ByteSource;
  counters: { members: number; decompressed: number };
}

interface ContentKey {
  key?: string;
  /** Bytes read to compute the key. */
  bytesRead: number;
  /** False when scanning again costs less than a cache lookup (a small local file already in memory). */
  cacheable?: boolean;
}

/** Local files up to this size are hashed so their inventory can be cached; larger ones are rescanned (cheaply). */
const LOCAL_HASH_LIMIT = 8 * 1024 * 1024;

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
  let results;
  try {
    results = await mapBounded(items, options.concurrency ?? 4, async (item) => {
      const active = progress.start(item.path);
      const result = await scanItem(item, options.limits, cache, active);
      progress.finish(item.path, result.inventory.bytes_read, result.hashed);
      return { ...result, item };
    });
  } finally {
    progress.stop();
  }
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

async function scanItem(
  item: WorkItem,
  limits: Partial<ScanLimits> | undefined,
  cache: InventoryCache | undefined,
  active: ActiveFile,
): Promise<{ inventory: FileInventory; cached: boolean; hashed: number; unreadable?: string }> {
  const keyed: ContentKey = cache ? await item.key().catch(() => ({ bytesRead: 0 })) : { bytesRead: 0 };
  const { key, bytesRead: hashed } = keyed;
  if (keyed.cacheable === false) cache = undefined;
  if (cache && key) {
    const stored = await cache.get(key);
    if (stored) return { inventory: { ...stored, path: item.path, bytes_read: 0 }, cached: true, hashed };
  }
  let inventory: FileInventory;
  let unreadable: string | undefined;
  try {
    active.source = await item.open();
    const inspected = await inspectCounting(active.source, limits, active.counters);
    inventory = inspected.inventory;
    unreadable = inspected.ioError;
  } catch (e) {
    unreadable = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    inventory = emptyInventory(item.path, item.size);
    const message = `cannot read file: ${unreadable}`;
    inventory.errors.push(message);
    inventory.indicators.push({ id: "scan.error", message, member: "" });
    inventory.bytes_read = active.source?.bytesRead ?? 0;
  } finally {
    await active.source?.close();
  }
  inventory.path = item.path;
  if (item.sha256) inventory.sha256 = item.sha256;
  else if (key?.startsWith("sha256:")) inventory.sha256 = key.slice(7);
  // Only complete readings are cached: a failed read must be retried next time.
  if (cache && key && inventory.errors.length === 0) await cache.put(key, inventory).catch(() => undefined);
  return { inventory, cached: false, hashed, ...(unreadable ? { unreadable } : {}) };
}

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

/**
 * The cache module (and the hashing and home-folder lookups it needs) loads only for a scan that uses it: a
 * `--no-cache` run, like a CI job's, opens and hashes nothing it does not scan.
 */
async function openCache(dir: string | undefined): Promise<InventoryCache> {
  const { InventoryCache } = await import("./cache.js");
  return new InventoryCache(dir ?? InventoryCache.defaultDir());
}

function localItem(path: string): WorkItem {
  let size = 0;
  // A small file is read once, whole, and both hashed and scanned from memory; a larger one is read as needed.
  let small: Uint8Array | undefined | null = null;
  const loadSmall = (): Uint8Array | undefined => {
    if (small === null) {
      small = readSmallFile(path);
      if (small) size = small.length;
    }
    return small;
  };
  return {
    path,
    get size() {
      return size;
    },
    open: async () => {
      const bytes = loadSmall();
      if (bytes) return new BufferSource(bytes, path);
      const source = await FileSource.open(path);
      size = source.size;
      return source;
    },
    key: async () => {
      const bytes = loadSmall();
      if (bytes) {
        const { createHash } = await import("node:crypto");
        const digest = createHash("sha256").update(bytes).digest("hex");
        return { key: `sha256:${digest}`, bytesRead: bytes.length, cacheable: false };
      }
      const info = await stat(path);
      size = info.size;
      if (info.size > LOCAL_HASH_LIMIT) return { bytesRead: 0 };
      return { key: `sha256:${await sha256File(path)}`, bytesRead: info.size };
    },
  };
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

async function sha256File(path: string): Promise<string> {
  const { createHash } = await import("node:crypto");
  return new Promise((resolve, reject) => {
    const hash = createHash("sha256");
    createReadStream(path)
      .on("data", (chunk) => hash.update(chunk))
      .on("error", reject)
      .on("end", () => resolve(hash.digest("hex")));
  });
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

/** Scans one already-open source (library use: buffers, HTTP sources, members). */
export async function inspect(source: ByteSource, limits?: Partial<ScanLimits>): Promise<FileInventory> {
  return (await inspectCounting(source, limits)).inventory;
}

/**
 * inspect() with live counters (members, decompressed bytes) for progress, telling apart an operating-system
 * read error (EIO, EACCES, a file that vanished: the file could not be read) from a format's failure.
 */
async function inspectCounting(
  source: ByteSource,
  limits?: Partial<ScanLimits>,
  counters = { members: 0, decompressed: 0 },
): Promise<{ inventory: FileInventory; ioError?: string }> {
  const inventory = emptyInventory(source.name, source.size);
  const ctx = new InspectContext(inventory, { ...DEFAULT_SCAN_LIMITS, ...limits }, "", 0, undefined, counters);
  let ioError: string | undefined;
  try {
    await inspectSource(
      source instanceof HttpRangeSource ? new CachingSource(source, 16, 1024 * 1024, 1024) : new CachingSource(source),
      ctx,
    );
  } catch (e) {
    if (isOsError(e)) ioError = (e as NodeJS.ErrnoException).code;
    recordFailure(inventory, ctx, e);
  }
  inventory.bytes_read = source.bytesRead;
  return { inventory, ...(ioError ? { ioError } : {}) };
}

function isOsError(e: unknown): boolean {
  const err = e as NodeJS.ErrnoException;
  return typeof err?.code === "string" && typeof err.syscall === "string";
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

function emptyInventory(path: string, size: number): FileInventory {
  return { path, size, formats: [], imports: [], indicators: [], errors: [], bytes_read: 0 };
}

/** A crash inside a format is a bug, but the file must still fail closed: Warning with the reason. */
function recordFailure(inventory: FileInventory, ctx: InspectContext, e: unknown): void {
  const message = `scan failed${ctx.member ? ` in ${ctx.member}` : ""}: ${(e as Error)?.message ?? String(e)}`;
  inventory.errors.push(message);
  ctx.indicate("scan.error", message);
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

/** Maps with at most `limit` calls in flight, keeping the input order. */
async function mapBounded<T, R>(items: T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
