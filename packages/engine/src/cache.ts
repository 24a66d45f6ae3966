import { mkdir, readFile, readdir, rename, stat, writeFile } from "node:fs/promises";
import { homedir, platform } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { INVENTORY_VERSION, type FileInventory } from "./inventory.js";

/**
 * Inventories stored by content hash. A file's inventory (its imports and indicators) does not depend on the
 * rules, so an unchanged file is never read again and a newer rules pack re-judges the stored inventory. Entries
 * are namespaced by a fingerprint of the engine code that made them: a changed engine never trusts old entries.
 */
export class InventoryCache {
  private namespace: Promise<string> | undefined;

  constructor(readonly dir: string) {}

  /** `$XDG_CACHE_HOME/modelvet`, `~/Library/Caches/modelvet`, `%LOCALAPPDATA%\modelvet\Cache`, else ~/.cache. */
  static defaultDir(env: NodeJS.ProcessEnv = process.env): string {
    if (env.MODELVET_CACHE_DIR) return env.MODELVET_CACHE_DIR;
    if (platform() === "win32" && env.LOCALAPPDATA) return join(env.LOCALAPPDATA, "modelvet", "Cache");
    if (platform() === "darwin") return join(homedir(), "Library", "Caches", "modelvet");
    return join(env.XDG_CACHE_HOME || join(homedir(), ".cache"), "modelvet");
  }

  async get(key: string): Promise<FileInventory | undefined> {
    try {
      const text = await readFile(await this.pathOf(key), "utf8");
      const stored = JSON.parse(text) as { key?: string; inventory?: FileInventory };
      return stored.key === key ? stored.inventory : undefined;
    } catch {
      return undefined; // missing or unreadable entries are simply misses
    }
  }

  async put(key: string, inventory: FileInventory): Promise<void> {
    const path = await this.pathOf(key);
    await mkdir(dirname(path), { recursive: true });
    const temp = `${path}.${process.pid}.${Date.now()}.tmp`;
    await writeFile(temp, JSON.stringify({ key, inventory }));
    await rename(temp, path); // atomic: a concurrent reader sees the old entry or the new one
  }

  private async pathOf(key: string): Promise<string> {
    const digest = sha256().update(key).digest("hex");
    return join(this.dir, "inventories", await this.engineNamespace(), digest.slice(0, 2), `${digest}.json`);
  }

  private engineNamespace(): Promise<string> {
    this.namespace ??= processFingerprint().then((f) => `v${INVENTORY_VERSION}-${f}`);
    return this.namespace;
  }
}

let fingerprint: Promise<string> | undefined;

/** The engine's fingerprint, computed once per process (the code cannot change under a running process). */
function processFingerprint(): Promise<string> {
  fingerprint ??= engineFingerprint();
  return fingerprint;
}

/** A hash of the engine's compiled code (this module's folder), computed once per process. */
async function engineFingerprint(): Promise<string> {
  const root = dirname(fileURLToPath(import.meta.url));
  const hash = sha256();
  const files: string[] = [];
  const walk = async (dir: string, depth: number): Promise<void> => {
    if (depth > 4) return;
    for (const entry of (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) await walk(full, depth + 1);
      else if (/\.(js|ts)$/.test(entry.name) && !entry.name.endsWith(".d.ts")) files.push(full);
    }
  };
  await walk(root, 0);
  for (const file of files.slice(0, 2000)) {
    if ((await stat(file)).size > 4 * 1024 * 1024) continue;
    hash.update(file.slice(root.length)).update(await readFile(file));
  }
  return hash.digest("hex").slice(0, 16);
}

/**
 * node:crypto loads on the first hash: the engine's index re-exports this module, and a scan that uses no cache
 * (`--no-cache`) should not pay for loading it.
 */
function sha256(): import("node:crypto").Hash {
  return process.getBuiltinModule("node:crypto").createHash("sha256");
}
