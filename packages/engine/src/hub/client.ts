import type { ListFileEntry } from "@huggingface/hub";

type HubLibrary = typeof import("@huggingface/hub");
let hubLibrary: HubLibrary | undefined;
/** The Hub client library, loaded on the first Hub call: scans of local files never pay for it. */
async function loadHubLibrary(): Promise<HubLibrary> {
  hubLibrary ??= await import("@huggingface/hub");
  return hubLibrary;
}
/** True for the library's HTTP errors (no such error exists before the library is loaded). */
function isHubApiError(e: unknown): e is InstanceType<HubLibrary["HubApiError"]> {
  return hubLibrary !== undefined && e instanceof hubLibrary.HubApiError;
}
import type { HubTarget } from "./target.js";

/** Where the Hub is and who we are: the standard HF_ENDPOINT and HF_TOKEN, or explicit values. */
export interface HubSettings {
  endpoint: string;
  token?: string;
  fetch?: typeof fetch;
}

export const DEFAULT_ENDPOINT = "https://huggingface.co";

export function hubSettingsFromEnv(env: NodeJS.ProcessEnv = process.env, token?: string): HubSettings {
  const endpoint = (env.HF_ENDPOINT || DEFAULT_ENDPOINT).replace(/\/+$/, "");
  const resolvedToken = token ?? env.HF_TOKEN ?? env.HUGGING_FACE_HUB_TOKEN;
  return { endpoint, ...(resolvedToken ? { token: resolvedToken } : {}) };
}

/** A failure a person can act on: names the repo and what to do. Scans stop with exit code 2. */
export class HubAccessError extends Error {}

export interface HubFile {
  path: string;
  size: number;
  /** The git blob id; for LFS files `lfsOid` is the SHA-256 of the content. */
  oid?: string;
  lfsOid?: string;
  /** The Hub's own scan of the file, when the listing carries it. */
  security?: HubSecurity;
}

export interface HubSecurity {
  safe?: boolean;
  highestSafetyLevel?: "innocuous" | "suspicious" | "dangerous";
  imports?: Array<{ module: string; name: string; safety: string }>;
}

/**
 * The Hub API calls modelvet makes: resolve a revision to a commit sha, and list the files at that sha with
 * sizes, LFS oids and the Hub's own security status. The token travels in our fetch wrapper, only to the
 * endpoint's origin, so any token format the Hub accepts works.
 */
export class HubClient {
  readonly origin: string;

  constructor(readonly settings: HubSettings) {
    this.origin = new URL(settings.endpoint).origin;
  }

  /** A fetch that adds the token for requests to the Hub's own origin. */
  readonly fetch: typeof fetch = (input, init) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    const headers = new Headers(init?.headers);
    if (this.settings.token && new URL(url).origin === this.origin)
      headers.set("Authorization", `Bearer ${this.settings.token}`);
    return (this.settings.fetch ?? fetch)(input, { ...init, headers });
  };

  /** The commit sha a branch, tag or sha names. */
  async resolveRevision(target: HubTarget): Promise<string> {
    if (target.repoType !== "model") return this.resolveOther(target);
    const { modelInfo } = await loadHubLibrary();
    try {
      const info = await modelInfo({
        name: target.repo,
        revision: target.revision,
        hubUrl: this.settings.endpoint,
        fetch: this.fetch,
        additionalFields: ["sha"],
      });
      const sha = (info as { sha?: string }).sha;
      if (!sha)
        throw new HubAccessError(`${label(target)}: the Hub did not return a commit for revision ${target.revision}`);
      return sha;
    } catch (e) {
      throw this.explain(e, target);
    }
  }

  /** Every file under the target's path at `sha`, following the listing's pagination. */
  async listFiles(target: HubTarget, sha: string, maxFiles = 100_000): Promise<HubFile[]> {
    const files: HubFile[] = [];
    const { listFiles } = await loadHubLibrary();
    try {
      const entries = listFiles({
        repo: { type: target.repoType, name: target.repo },
        revision: sha,
        recursive: true,
        expand: true,
        hubUrl: this.settings.endpoint,
        fetch: this.fetch,
        ...(target.path ? { path: target.path } : {}),
      });
      for await (const entry of entries) {
        if (entry.type !== "file") continue;
        files.push(toHubFile(entry));
        if (files.length > maxFiles)
          throw new HubAccessError(`${label(target)}: more than ${maxFiles} files; scan a folder of it`);
      }
    } catch (e) {
      // A path that is a file, not a folder: the tree endpoint answers 404; list its parent and pick it.
      if (isHubApiError(e) && e.statusCode === 404 && target.path && files.length === 0)
        return this.listSingleFile(target, sha);
      throw this.explain(e, target);
    }
    return files;
  }

  /** The URL a file's bytes are read from at a commit. */
  fileUrl(target: HubTarget, sha: string, path: string): string {
    const prefix = target.repoType === "model" ? "" : `${target.repoType}s/`;
    const encodedPath = path.split("/").map(encodeURIComponent).join("/");
    return `${this.settings.endpoint}/${prefix}${target.repo}/resolve/${sha}/${encodedPath}`;
  }

  private async listSingleFile(target: HubTarget, sha: string): Promise<HubFile[]> {
    const parent = target.path!.includes("/") ? target.path!.slice(0, target.path!.lastIndexOf("/")) : undefined;
    const { path: _ignored, ...rest } = target;
    const all = await this.listFiles({ ...rest, ...(parent ? { path: parent } : {}) }, sha);
    const match = all.filter((f) => f.path === target.path);
    if (match.length === 0) throw new HubAccessError(`${label(target)}: no file or folder ${target.path} at ${sha}`);
    return match;
  }

  private async resolveOther(target: HubTarget): Promise<string> {
    const url = `${this.settings.endpoint}/api/${target.repoType}s/${target.repo}/revision/${encodeURIComponent(target.revision)}`;
    const response = await this.fetch(url);
    if (!response.ok) throw this.explain(new (await loadHubLibrary()).HubApiError(url, response.status), target);
    const body = (await response.json()) as { sha?: string };
    if (!body.sha)
      throw new HubAccessError(`${label(target)}: the Hub did not return a commit for revision ${target.revision}`);
    return body.sha;
  }

  private explain(e: unknown, target: HubTarget): Error {
    if (e instanceof HubAccessError) return e;
    const where = label(target);
    if (isHubApiError(e)) {
      const tokenHint = this.settings.token
        ? "the token given has no access to it"
        : "set HF_TOKEN (or --token) if it is private or gated";
      switch (e.statusCode) {
        case 401:
          return new HubAccessError(`${where}: not found or not authorised (HTTP 401): ${tokenHint}`);
        case 403:
          return new HubAccessError(
            `${where}: access denied (HTTP 403): the repo may be gated (accept its conditions on the Hub) or ${tokenHint}`,
          );
        case 404:
          return new HubAccessError(`${where}: repository or revision not found (HTTP 404)`);
        default:
          return new HubAccessError(`${where}: the Hub answered HTTP ${e.statusCode}`);
      }
    }
    const cause = (e as Error)?.message ?? String(e);
    return new HubAccessError(`${where}: cannot reach ${this.settings.endpoint}: ${cause}`);
  }
}

function label(target: HubTarget): string {
  const prefix = target.repoType === "model" ? "" : `${target.repoType}s/`;
  return `hf://${prefix}${target.repo}@${target.revision}`;
}

function toHubFile(entry: ListFileEntry): HubFile {
  const raw = entry as ListFileEntry & { security?: unknown };
  const security = parseSecurity(raw.security ?? raw.securityFileStatus);
  return {
    path: entry.path,
    size: entry.lfs?.size ?? entry.size,
    ...(entry.oid ? { oid: entry.oid } : {}),
    ...(entry.lfs?.oid ? { lfsOid: entry.lfs.oid } : {}),
    ...(security ? { security } : {}),
  };
}

function parseSecurity(value: unknown): HubSecurity | undefined {
  if (!value || typeof value !== "object") return undefined;
  const v = value as { safe?: unknown; pickleImportScan?: { highestSafetyLevel?: unknown; imports?: unknown } };
  const scan = v.pickleImportScan;
  const level = scan?.highestSafetyLevel;
  return {
    ...(typeof v.safe === "boolean" ? { safe: v.safe } : {}),
    ...(level === "innocuous" || level === "suspicious" || level === "dangerous" ? { highestSafetyLevel: level } : {}),
    ...(Array.isArray(scan?.imports) ? { imports: scan.imports as HubSecurity["imports"] } : {}),
  };
}
