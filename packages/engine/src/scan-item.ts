import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import type { InventoryCache } from "./cache.js";
import type { HubSecurity } from "./hub/client.js";
import type { FileInventory } from "./inventory.js";
import { DEFAULT_SCAN_LIMITS, InspectContext, inspectSource, type ScanLimits } from "./inspect.js";
import { HttpRangeSource } from "./source/http-source.js";
import { BufferSource, CachingSource, FileSource, readSmallFile, type ByteSource } from "./source/byte-source.js";

/** One file to scan, local or remote, with how to open it and the content key its inventory is cached under. */
export interface WorkItem {
  path: string;
  size: number;
  /** Set for a file on this machine: a worker thread can open it by its path alone. */
  local?: true;
  open(): Promise<ByteSource>;
  /** Content key (`sha256:…`, `git:…`), computed lazily for local files (hashing reads them: `bytesRead`). */
  key(): Promise<ContentKey>;
  sha256?: string;
  hub?: HubSecurity;
  /** Web address of a Hub file at the scanned commit. */
  url?: string;
}

/** Counters of one file being scanned, polled for progress. */
export interface ActiveFile {
  source?: { readonly bytesRead: number };
  counters: { members: number; decompressed: number };
}

/** What scanning one file gives: plain data, so a worker thread can send it back as it is. */
export interface ItemResult {
  inventory: FileInventory;
  cached: boolean;
  /** Bytes read to hash the file for the cache. */
  hashed: number;
  /** The operating system's reason when the file itself could not be read. */
  unreadable?: string;
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

/** Reads one file's inventory: from the cache when its content key is known there, else by inspecting it. */
export async function scanItem(
  item: WorkItem,
  limits: Partial<ScanLimits> | undefined,
  cache: InventoryCache | undefined,
  active: ActiveFile,
): Promise<ItemResult> {
  const keyed: ContentKey = cache ? await item.key().catch(() => ({ bytesRead: 0 })) : { bytesRead: 0 };
  const { key, bytesRead: hashed } = keyed;
  if (keyed.cacheable === false) cache = undefined;
  if (cache && key) {
    const stored = await cache.get(key);
    if (stored) return { inventory: { ...stored, path: item.path, bytes_read: 0 }, cached: true, hashed };
  }
  let inventory: FileInventory;
  let unreadable: string | undefined;
  let source: ByteSource | undefined;
  try {
    source = await item.open();
    active.source = source;
    const inspected = await inspectCounting(source, limits, active.counters);
    inventory = inspected.inventory;
    unreadable = inspected.ioError;
  } catch (e) {
    unreadable = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    inventory = emptyInventory(item.path, item.size);
    const message = `cannot read file: ${unreadable}`;
    inventory.errors.push(message);
    inventory.indicators.push({ id: "scan.error", message, member: "" });
    inventory.bytes_read = source?.bytesRead ?? 0;
  } finally {
    await source?.close();
  }
  inventory.path = item.path;
  if (item.sha256) inventory.sha256 = item.sha256;
  else if (key?.startsWith("sha256:")) inventory.sha256 = key.slice(7);
  // Only complete readings are cached: a failed read must be retried next time.
  if (cache && key && inventory.errors.length === 0) await cache.put(key, inventory).catch(() => undefined);
  return { inventory, cached: false, hashed, ...(unreadable ? { unreadable } : {}) };
}

/** A file on this machine. */
export function localItem(path: string): WorkItem {
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
    local: true,
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

export function emptyInventory(path: string, size: number): FileInventory {
  return { path, size, formats: [], imports: [], indicators: [], errors: [], bytes_read: 0 };
}

/** A crash inside a format is a bug, but the file must still fail closed: Warning with the reason. */
function recordFailure(inventory: FileInventory, ctx: InspectContext, e: unknown): void {
  const message = `scan failed${ctx.member ? ` in ${ctx.member}` : ""}: ${(e as Error)?.message ?? String(e)}`;
  inventory.errors.push(message);
  ctx.indicate("scan.error", message);
}

/**
 * The cache module (and the hashing and home-folder lookups it needs) loads only for a scan that uses it: a
 * `--no-cache` run, like a CI job's, opens and hashes nothing it does not scan.
 */
export async function openCache(dir: string | undefined): Promise<InventoryCache> {
  const { InventoryCache } = await import("./cache.js");
  return new InventoryCache(dir ?? InventoryCache.defaultDir());
}

/** Maps with at most `limit` calls in flight, keeping the input order. */
export async function mapBounded<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
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
