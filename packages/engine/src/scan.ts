import { createHash } from "node:crypto";
import { createReadStream, type Dirent } from "node:fs";
import { opendir, stat } from "node:fs/promises";
import { join } from "node:path";
import { InventoryCache } from "./cache.js";
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
  const { items, targets } = await collectWork(inputs, options, hub);
  const cache =
    options.cacheDir === false ? undefined : new InventoryCache(options.cacheDir ?? InventoryCache.defaultDir());
  let bytesSoFar = 0;
  const results = await mapBounded(items, options.concurrency ?? 4, async (item, _i, done) => {
    const result = await scanItem(item, options.limits, cache);
    bytesSoFar += result.inventory.bytes_read;
    options.onProgress?.({
      filesDone: done() + 1,
      filesTotal: items.length,
      bytesRead: bytesSoFar,
      current: item.path,
    });
    return { ...result, item };
  });
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
): Promise<{ inventory: FileInventory; cached: boolean }> {
  const keyed: ContentKey = cache ? await item.key().catch(() => ({ bytesRead: 0 })) : { bytesRead: 0 };
  const key = keyed.key;
  if (keyed.cacheable === false) cache = undefined;
  if (cache && key) {
    const stored = await cache.get(key);
    if (stored) return { inventory: { ...stored, path: item.path, bytes_read: keyed.bytesRead }, cached: true };
  }
  let inventory: FileInventory;
  let source: ByteSource | undefined;
  try {
    source = await item.open();
    inventory = await inspect(source, limits);
  } catch (e) {
    inventory = emptyInventory(item.path, item.size);
    const message = `cannot read file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`;
    inventory.errors.push(message);
    inventory.indicators.push({ id: "scan.error", message, member: "" });
    inventory.bytes_read = source?.bytesRead ?? 0;
  } finally {
    await source?.close();
  }
  inventory.path = item.path;
  inventory.bytes_read += keyed.bytesRead;
  if (item.sha256) inventory.sha256 = item.sha256;
  else if (key?.startsWith("sha256:")) inventory.sha256 = key.slice(7);
  // Only complete readings are cached: a failed read must be retried next time.
  if (cache && key && inventory.errors.length === 0) await cache.put(key, inventory).catch(() => undefined);
  return { inventory, cached: false };
}

async function collectWork(
  inputs: string[],
  options: ScanOptions,
  hub: HubSettings,
): Promise<{ items: WorkItem[]; targets: ScanTarget[] }> {
  const items: WorkItem[] = [];
  const targets: ScanTarget[] = [];
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
      for (const path of await collectFiles([target.path], options.maxFiles ?? 1_000_000)) items.push(localItem(path));
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
    for (const file of files) items.push(hubItem(client, target, sha, file, gate));
  }
  return { items, targets };
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

function hubItem(client: HubClient, target: HubTarget, sha: string, file: HubFile, gate: RequestGate): WorkItem {
  const prefix = target.repoType === "model" ? "" : `${target.repoType}s/`;
  const path = `hf://${prefix}${target.repo}@${sha.slice(0, 12)}/${file.path}`;
  return {
    path,
    size: file.size,
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

function sha256File(path: string): Promise<string> {
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
  const inventory = emptyInventory(source.name, source.size);
  const ctx = new InspectContext(inventory, { ...DEFAULT_SCAN_LIMITS, ...limits });
  try {
    await inspectSource(
      source instanceof HttpRangeSource ? new CachingSource(source, 16, 1024 * 1024, 1024) : new CachingSource(source),
      ctx,
    );
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
    const entries: Dirent[] = [];
    try {
      // The listing's own entry types: no stat per file (Node stats by itself where the file system gives none).
      for await (const entry of await opendir(dir)) entries.push(entry);
    } catch (e) {
      throw new ScanError(`cannot list ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const subdirs: string[] = [];
    for (const entry of entries) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) subdirs.push(full);
      else if (entry.isFile()) out.push(full);
      else if (entry.isSymbolicLink()) {
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
