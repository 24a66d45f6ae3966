import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A Hugging Face Hub–compatible HTTP server for tests, on loopback. It follows the real Hub's API where modelvet
 * (and @huggingface/hub) touch it:
 *   GET  /api/{models|datasets}/{repo}/revision/{rev}          → model info with the commit `sha`
 *   GET  /api/{models|datasets}/{repo}/tree/{rev}[/{path}]     → paginated listing (`Link: <…>; rel="next"`),
 *        `?recursive=true&expand=true` adds `lastCommit` and `security` (the Hub's own scan)
 *   GET  /{[datasets/]repo}/resolve/{rev}/{path}               → the file; LFS files answer 302 to a storage host
 *   GET  (storage origin) /lfs/{oid}                           → LFS content, with Range
 * Private repos answer 401 without a valid token (401 too for a repo that does not exist, as the Hub does for
 * anonymous callers); gated repos answer 403 `GatedRepo`. Every byte of every response body is counted.
 * Files are virtual: a size plus byte segments, zeros elsewhere, so a 3 GiB checkpoint costs no memory.
 */
export interface VirtualFile {
  path: string;
  size: number;
  segments: Array<{ offset: number; bytes: Uint8Array }>;
  lfs: boolean;
  /** git blob sha1 (non-LFS) and, for LFS, the content sha256 (real for small files, synthetic for huge ones). */
  oid: string;
  lfsOid?: string;
  security?: unknown;
}

export interface RepoSpec {
  id: string;
  type?: "model" | "dataset";
  private?: boolean;
  gated?: boolean;
  /** Token that may read a private or gated repo. */
  token?: string;
  /** Branch/tag name → commit sha; every commit maps to its files. */
  refs?: Record<string, string>;
  commits: Record<string, VirtualFile[]>;
}

export interface ServerStats {
  bytesSent: number;
  /** Time spent answering (the handlers are synchronous, so this is the server's own CPU time, in ms). */
  busyMs: number;
  requests: Array<{
    method: string;
    url: string;
    status: number;
    auth: boolean;
    origin: "hub" | "storage";
    bytes: number;
  }>;
}

export class FakeHub {
  readonly stats: ServerStats = { bytesSent: 0, busyMs: 0, requests: [] };
  pageSize = 50;
  private hubServer?: Server;
  private storageServer?: Server;
  private readonly repos = new Map<string, RepoSpec>();
  /** LFS content by id, rebuilt on a miss (commits may be added after addRepo): a lookup per request, not a walk. */
  private readonly lfsFiles = new Map<string, VirtualFile>();
  hubUrl = "";
  storageUrl = "";
  /** Optional wait before each answer (ms), so a test can keep scans running long enough to watch or kill them. */
  delayMs = 0;

  addRepo(repo: RepoSpec): void {
    this.repos.set(`${repo.type ?? "model"}:${repo.id}`, repo);
  }

  resetStats(): void {
    this.stats.bytesSent = 0;
    this.stats.busyMs = 0;
    this.stats.requests.length = 0;
  }

  async start(): Promise<void> {
    this.hubServer = createServer((req, res) => this.handle(req, res, "hub"));
    this.storageServer = createServer((req, res) => this.handle(req, res, "storage"));
    this.hubUrl = `http://127.0.0.1:${await listen(this.hubServer)}`;
    // A different origin (port), like the Hub's CDN: the token must never be sent there.
    this.storageUrl = `http://127.0.0.1:${await listen(this.storageServer)}`;
  }

  async stop(): Promise<void> {
    await Promise.all(
      [this.hubServer, this.storageServer].map(
        (s) => new Promise<void>((resolve) => (s ? s.close(() => resolve()) : resolve())),
      ),
    );
  }

  private handle(req: IncomingMessage, res: ServerResponse, origin: "hub" | "storage", delayed = false): void {
    if (this.delayMs > 0 && !delayed) {
      setTimeout(() => this.handle(req, res, origin, true), this.delayMs);
      return;
    }
    const began = performance.now();
    try {
      this.answer(req, res, origin);
    } finally {
      this.stats.busyMs += performance.now() - began;
    }
  }

  private answer(req: IncomingMessage, res: ServerResponse, origin: "hub" | "storage"): void {
    const url = new URL(req.url ?? "/", "http://x");
    const record = {
      method: req.method ?? "GET",
      url: url.pathname + url.search,
      status: 0,
      auth: Boolean(req.headers.authorization),
      origin,
      bytes: 0,
    };
    this.stats.requests.push(record);
    const send = (status: number, body: Uint8Array | string, headers: Record<string, string> = {}): void => {
      const bytes =
        typeof body === "string" ? Buffer.from(body) : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
      record.status = status;
      if (req.method !== "HEAD") {
        record.bytes = bytes.length;
        this.stats.bytesSent += bytes.length;
      }
      res.writeHead(status, { "Content-Length": String(bytes.length), ...headers });
      res.end(req.method === "HEAD" ? undefined : bytes);
    };
    try {
      if (origin === "storage") return this.serveStorage(url, req, send);
      const api = /^\/api\/(models|datasets)\/(.+?)\/(revision|tree)\/([^/]+)(?:\/(.*))?$/.exec(url.pathname);
      if (api) return this.serveApi(api, url, req, send);
      const resolve = /^\/(?:(datasets)\/)?(.+?)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
      if (resolve) return this.serveResolve(resolve, req, send);
      send(404, JSON.stringify({ error: "Not Found" }), { "Content-Type": "application/json" });
    } catch (e) {
      send(500, JSON.stringify({ error: (e as Error).message }), { "Content-Type": "application/json" });
    }
  }

  /** Finds the repo and checks access the way the Hub does; answers the error itself and returns undefined. */
  private access(type: string, id: string, req: IncomingMessage, send: Sender): RepoSpec | undefined {
    const repo = this.repos.get(`${type}:${id}`);
    const auth = req.headers.authorization;
    const token = auth?.startsWith("Bearer ") ? auth.slice(7) : undefined;
    const json = { "Content-Type": "application/json" };
    if (!repo || (repo.private && token !== repo.token)) {
      if (token && (!repo || token !== repo.token) && repo?.private) {
        send(401, JSON.stringify({ error: "Invalid credentials in Authorization header" }), {
          ...json,
          "X-Error-Code": "RepoNotFound",
        });
        return undefined;
      }
      const status = token && !repo ? 404 : 401;
      send(status, JSON.stringify({ error: "Repository not found" }), { ...json, "X-Error-Code": "RepoNotFound" });
      return undefined;
    }
    if (repo.gated && token !== repo.token) {
      send(
        403,
        JSON.stringify({
          error: `Access to model ${id} is restricted. You must have access to it and be authenticated to access it.`,
        }),
        { ...json, "X-Error-Code": "GatedRepo" },
      );
      return undefined;
    }
    return repo;
  }

  private commitOf(repo: RepoSpec, rev: string): string | undefined {
    if (repo.commits[rev]) return rev;
    return repo.refs?.[rev] ?? (rev === "HEAD" ? repo.refs?.main : undefined);
  }

  private serveApi(m: RegExpExecArray, url: URL, req: IncomingMessage, send: Sender): void {
    const [, kind, id, endpoint, rawRev, rawPath] = m;
    const repo = this.access(kind === "datasets" ? "dataset" : "model", id!, req, send);
    if (!repo) return;
    const rev = decodeURIComponent(rawRev!);
    const sha = this.commitOf(repo, rev);
    const json = { "Content-Type": "application/json" };
    if (!sha)
      return send(404, JSON.stringify({ error: `Invalid rev id: ${rev}` }), {
        ...json,
        "X-Error-Code": "RevisionNotFound",
      });
    const files = repo.commits[sha]!;
    if (endpoint === "revision") {
      const info = {
        _id: hex(id!, 24),
        id,
        modelId: id,
        sha,
        private: Boolean(repo.private),
        gated: repo.gated ? "auto" : false,
        disabled: false,
        downloads: 0,
        likes: 0,
        lastModified: "2026-11-01T00:00:00.000Z",
        siblings: files.map((f) => ({ rfilename: f.path })),
      };
      return send(200, JSON.stringify(info), json);
    }
    const prefix = rawPath ? decodeURIComponent(rawPath).replace(/\/$/, "") : "";
    const recursive = url.searchParams.get("recursive") === "true";
    const expand = url.searchParams.get("expand") === "true";
    const entries = treeEntries(files, prefix, recursive);
    if (entries === undefined)
      return send(404, JSON.stringify({ error: `Entry not found: ${prefix}` }), {
        ...json,
        "X-Error-Code": "EntryNotFound",
      });
    const cursor = Number(url.searchParams.get("cursor") ?? "0");
    const page = entries
      .slice(cursor, cursor + this.pageSize)
      .map((e) => (e.type === "directory" ? e : fileEntry(e.file, expand, sha)));
    const headers: Record<string, string> = { ...json };
    if (cursor + this.pageSize < entries.length) {
      const next = new URL(`${this.hubUrl}${url.pathname}`);
      url.searchParams.forEach((v, k) => k !== "cursor" && next.searchParams.set(k, v));
      next.searchParams.set("cursor", String(cursor + this.pageSize));
      headers.Link = `<${next.href}>; rel="next"`;
    }
    send(200, JSON.stringify(page), headers);
  }

  private serveResolve(m: RegExpExecArray, req: IncomingMessage, send: Sender): void {
    const [, datasets, id, rawRev, rawPath] = m;
    const repo = this.access(datasets ? "dataset" : "model", id!, req, send);
    if (!repo) return;
    const sha = this.commitOf(repo, decodeURIComponent(rawRev!));
    const path = rawPath!.split("/").map(decodeURIComponent).join("/");
    const file = sha ? repo.commits[sha]!.find((f) => f.path === path) : undefined;
    if (!sha || !file) return send(404, "Entry not found", { "X-Error-Code": "EntryNotFound" });
    const common = { "X-Repo-Commit": sha, "Accept-Ranges": "bytes" };
    if (file.lfs) {
      const location = `${this.storageUrl}/lfs/${file.lfsOid}?X-Amz-Signature=test&X-Amz-Expires=3600`;
      return send(302, "", {
        ...common,
        Location: location,
        "X-Linked-Size": String(file.size),
        "X-Linked-ETag": `"${file.lfsOid}"`,
        ETag: `"${file.oid}"`,
      });
    }
    sendRange(file, req, send, { ...common, ETag: `"${file.oid}"` });
  }

  private serveStorage(url: URL, req: IncomingMessage, send: Sender): void {
    const m = /^\/lfs\/([0-9a-f]+)$/.exec(url.pathname);
    const file = m ? this.lfsFile(m[1]!) : undefined;
    if (!file || url.searchParams.get("X-Amz-Signature") !== "test") return send(403, "AccessDenied");
    sendRange(file, req, send, { ETag: `"${file.lfsOid}"`, "Accept-Ranges": "bytes" });
  }

  private lfsFile(oid: string): VirtualFile | undefined {
    if (!this.lfsFiles.has(oid)) {
      this.lfsFiles.clear();
      for (const repo of this.repos.values())
        for (const files of Object.values(repo.commits))
          for (const f of files) if (f.lfsOid && !this.lfsFiles.has(f.lfsOid)) this.lfsFiles.set(f.lfsOid, f);
    }
    return this.lfsFiles.get(oid);
  }
}

type Sender = (status: number, body: Uint8Array | string, headers?: Record<string, string>) => void;

const MAX_RESPONSE = 256 * 1024 * 1024;

function sendRange(file: VirtualFile, req: IncomingMessage, send: Sender, headers: Record<string, string>): void {
  const range = req.headers.range;
  if (!range) {
    if (file.size > MAX_RESPONSE) return send(500, "refusing to send a whole huge file in a test");
    return send(200, materialise(file, 0, file.size), headers);
  }
  const m = /^bytes=(\d*)-(\d*)$/.exec(range);
  let start = m?.[1] ? Number(m[1]) : NaN;
  let end = m?.[2] ? Number(m[2]) : file.size - 1;
  if (m && !m[1] && m[2]) {
    start = Math.max(0, file.size - Number(m[2]));
    end = file.size - 1;
  }
  if (!m || !(start <= end) || start >= file.size) return send(416, "", { "Content-Range": `bytes */${file.size}` });
  end = Math.min(end, file.size - 1);
  if (end - start + 1 > MAX_RESPONSE) return send(500, "range too large for a test");
  send(206, materialise(file, start, end + 1), { ...headers, "Content-Range": `bytes ${start}-${end}/${file.size}` });
}

function materialise(file: VirtualFile, start: number, end: number): Uint8Array {
  const out = new Uint8Array(end - start);
  for (const seg of file.segments) {
    const from = Math.max(start, seg.offset);
    const to = Math.min(end, seg.offset + seg.bytes.length);
    if (from < to) out.set(seg.bytes.subarray(from - seg.offset, to - seg.offset), from - start);
  }
  return out;
}

type TreeEntry = { type: "directory"; oid: string; size: 0; path: string } | { type: "file"; file: VirtualFile };

function treeEntries(files: VirtualFile[], prefix: string, recursive: boolean): TreeEntry[] | undefined {
  const inside = files.filter((f) => !prefix || f.path.startsWith(prefix + "/"));
  if (prefix && inside.length === 0) return undefined;
  const out: TreeEntry[] = [];
  const dirs = new Set<string>();
  for (const file of inside) {
    const rest = prefix ? file.path.slice(prefix.length + 1) : file.path;
    const parts = rest.split("/");
    for (let i = 1; i < parts.length; i++) {
      const dir = [prefix, ...parts.slice(0, i)].filter(Boolean).join("/");
      if (!dirs.has(dir) && (recursive || i === 1)) {
        dirs.add(dir);
        out.push({ type: "directory", oid: hex(dir, 40), size: 0, path: dir });
      }
    }
    if (recursive || parts.length === 1) out.push({ type: "file", file });
  }
  return out;
}

function fileEntry(file: VirtualFile, expand: boolean, sha: string): unknown {
  return {
    type: "file",
    oid: file.oid,
    size: file.lfs ? file.size : file.size,
    path: file.path,
    ...(file.lfs ? { lfs: { oid: file.lfsOid, size: file.size, pointerSize: 134 } } : {}),
    ...(expand
      ? {
          lastCommit: { id: sha, title: "Upload", date: "2026-11-01T00:00:00.000Z" },
          ...(file.security ? { security: file.security } : {}),
        }
      : {}),
  };
}

function hex(seed: string, length: number): string {
  return createHash("sha256").update(seed).digest("hex").slice(0, length);
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)));
}

/** A small file held whole, with real git and LFS ids. */
export function smallFile(
  path: string,
  bytes: Uint8Array,
  options: { lfs?: boolean; security?: unknown } = {},
): VirtualFile {
  const gitOid = createHash("sha1").update(`blob ${bytes.length}\0`).update(bytes).digest("hex");
  const lfs = options.lfs ?? false;
  return {
    path,
    size: bytes.length,
    segments: [{ offset: 0, bytes }],
    lfs,
    oid: gitOid,
    ...(lfs ? { lfsOid: createHash("sha256").update(bytes).digest("hex") } : {}),
    ...(options.security ? { security: options.security } : {}),
  };
}

/** A huge sparse LFS file; its LFS id is derived from its segments (hashing gigabytes of zeros in a test is waste). */
export function sparseFile(path: string, size: number, segments: VirtualFile["segments"]): VirtualFile {
  const hash = createHash("sha256").update(`${path}:${size}`);
  for (const seg of segments) hash.update(String(seg.offset)).update(seg.bytes);
  return { path, size, segments, lfs: true, oid: hash.copy().digest("hex").slice(0, 40), lfsOid: hash.digest("hex") };
}
