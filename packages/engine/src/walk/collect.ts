import type { Dirent } from "node:fs";
import { readdir, realpath, stat } from "node:fs/promises";
import { join, relative, sep } from "node:path";

/** Folders that hold tooling, not models: skipped unless `includeVcs` is set. */
export const DEFAULT_SKIPPED_DIRS = [".git", ".hg", ".svn", "node_modules", "__pycache__"];

export class CollectError extends Error {}

export interface CollectOptions {
  maxFiles: number;
  /** Globs matched against the path relative to the given root (and, for globs without a `/`, the name alone). */
  exclude?: string[];
  /** Scan `.git/`, `node_modules/`, `__pycache__/` and the like too. */
  includeVcs?: boolean;
}

/** What a walk left out, and why: reported so a person can see nothing was silently dropped. */
export interface SkippedPath {
  path: string;
  reason: "excluded" | "vcs" | "symlink-outside-root" | "not-regular";
}

export interface Collected {
  files: string[];
  skipped: SkippedPath[];
}

/**
 * Expands files and folders (recursively, in a stable order). Symlinks are followed only when they resolve inside
 * the root they were found under: a link to `/etc` or a home folder is never read. Missing roots throw.
 */
export async function collectPaths(paths: string[], options: CollectOptions): Promise<Collected> {
  const excluded = await compileExcludes(options.exclude ?? []);
  const out: Collected = { files: [], skipped: [] };
  for (const path of paths) {
    let info;
    try {
      info = await stat(path);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new CollectError(
        code === "ENOENT"
          ? `no such file or folder: ${path}`
          : `cannot access ${path}: ${code ?? (e as Error).message}`,
      );
    }
    if (info.isDirectory()) await walk(path, out, options, excluded);
    else if (info.isFile()) out.files.push(path);
    // Opening a FIFO or a device could block forever or never end: only regular files are scanned.
    else throw new CollectError(`not a regular file or folder: ${path}`);
    if (out.files.length > options.maxFiles)
      throw new CollectError(`more than ${options.maxFiles} files to scan; narrow the paths`);
  }
  return out;
}

type Matcher = (relativePath: string, name: string) => boolean;

/** The glob library loads only when a glob is given: most scans have none. */
async function compileExcludes(globs: string[]): Promise<Matcher | undefined> {
  if (globs.length === 0) return undefined;
  const { default: picomatch } = await import("picomatch");
  const matchers = globs.map((glob) => {
    const trimmed = glob.replace(/\/+$/, "");
    const test = picomatch(trimmed, { dot: true });
    return trimmed.includes("/") ? (rel: string) => test(rel) : (_rel: string, name: string) => test(name);
  });
  return (rel, name) => matchers.some((m) => m(rel, name));
}

async function walk(
  root: string,
  out: Collected,
  options: CollectOptions,
  excluded: Matcher | undefined,
): Promise<void> {
  const realRoot = await realpath(root);
  const pending = [root];
  while (pending.length > 0) {
    const dir = pending.pop()!;
    let entries: Dirent[];
    try {
      // One listing call returns each entry's type: no stat per file (only symlinks are resolved further).
      entries = await readdir(dir, { withFileTypes: true });
    } catch (e) {
      throw new CollectError(`cannot list ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const subdirs: string[] = [];
    for (const entry of entries) {
      const name = entry.name;
      const full = join(dir, name);
      if (excluded?.(relativePath(root, full), name)) {
        out.skipped.push({ path: full, reason: "excluded" });
        continue;
      }
      if (entry.isDirectory()) {
        if (!options.includeVcs && DEFAULT_SKIPPED_DIRS.includes(name)) out.skipped.push({ path: full, reason: "vcs" });
        else subdirs.push(full);
      } else if (entry.isFile()) out.files.push(full);
      else if (entry.isSymbolicLink()) await addLink(full, realRoot, out);
      else out.skipped.push({ path: full, reason: "not-regular" });
      if (out.files.length > options.maxFiles)
        throw new CollectError(`more than ${options.maxFiles} files to scan; narrow the paths`);
    }
    pending.push(...subdirs.reverse());
  }
}

function relativePath(root: string, full: string): string {
  return relative(root, full).split(sep).join("/");
}

/** A symlinked file is scanned when it resolves inside the root; symlinked folders are never walked. */
async function addLink(full: string, realRoot: string, out: Collected): Promise<void> {
  const target = await realpath(full).catch(() => undefined);
  if (!target) return;
  const inside = target === realRoot || target.startsWith(realRoot.endsWith(sep) ? realRoot : realRoot + sep);
  if (!inside) {
    out.skipped.push({ path: full, reason: "symlink-outside-root" });
    return;
  }
  const info = await stat(target).catch(() => undefined);
  if (info?.isFile()) out.files.push(full);
}
