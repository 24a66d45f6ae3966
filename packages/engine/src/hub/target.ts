import { repoIdProblem, revisionProblem } from "./names.js";

/** A repository on the Hugging Face Hub (or a mirror at HF_ENDPOINT), optionally narrowed to one path. */
export interface HubTarget {
  kind: "hub";
  repoType: "model" | "dataset" | "space";
  repo: string;
  /** Branch, tag or commit as the user gave it; resolved to a commit sha before any read. */
  revision: string;
  /** A folder or file inside the repo (from `/tree/<rev>/<path>` or `/blob/<rev>/<path>` URLs). */
  path?: string;
  /** What the user typed. */
  input: string;
}

export interface LocalTarget {
  kind: "local";
  path: string;
}

export type Target = HubTarget | LocalTarget;

const TYPE_PREFIXES: Record<string, HubTarget["repoType"]> = { datasets: "dataset", spaces: "space", models: "model" };

/**
 * Reads a scan target: `hf://org/repo`, `hf://org/repo@revision`, `hf://datasets/org/repo`,
 * `https://huggingface.co/org/repo`, `…/tree/<rev>[/<path>]`, `…/blob/<rev>/<path>`, or the same URLs on the
 * HF_ENDPOINT host. Anything else is a local path. `--revision` overrides a revision in the target.
 */
export function parseTarget(input: string, options: { revision?: string; endpoint?: string } = {}): Target {
  if (input.startsWith("hf://")) return hubTarget(input, input.slice(5), options.revision, false);
  const url = tryUrl(input);
  if (url && (url.protocol === "https:" || url.protocol === "http:")) {
    const hosts = new Set(["huggingface.co", "hf.co", "www.huggingface.co"]);
    const endpoint = options.endpoint ? tryUrl(options.endpoint) : undefined;
    if (hosts.has(url.hostname) || (endpoint && url.origin === endpoint.origin)) {
      const prefix = endpoint && url.origin === endpoint.origin ? endpoint.pathname.replace(/\/$/, "") : "";
      rejectCollapsedPath(input);
      return hubTarget(
        input,
        decodeURIComponent(url.pathname.slice(prefix.length).replace(/^\//, "")),
        options.revision,
        true,
      );
    }
    throw new TargetError(`${input}: only Hugging Face Hub URLs can be scanned (or set HF_ENDPOINT to a mirror)`);
  }
  return { kind: "local", path: input };
}

export class TargetError extends Error {}

/**
 * `new URL()` silently resolves `.`/`..` segments (also `%2e`) and keeps `//`: a Hub URL whose path relies on
 * that names something other than what it shows, so it is refused before parsing.
 */
function rejectCollapsedPath(input: string): void {
  const path = input.replace(/^[a-z]+:\/\/[^/]*/i, "").split(/[?#]/)[0] ?? "";
  const segments = path.split("/").slice(1);
  const bad = segments.some((s, i) => {
    const decoded = safeDecode(s);
    return decoded === "." || decoded === ".." || (s === "" && i < segments.length - 1) || /%2e|%2f|%5c/i.test(s);
  });
  if (bad) throw new TargetError(`${input}: the URL path has ".", "..", an encoded "." or "/", or an empty segment`);
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function hubTarget(input: string, rest: string, revisionOverride: string | undefined, isUrl: boolean): HubTarget {
  let repoType: HubTarget["repoType"] = "model";
  // A trailing "/" on a URL is harmless; an empty segment anywhere else is not a repo id.
  let parts = (isUrl ? rest.replace(/\/$/, "") : rest).split("/");
  if (parts.some((p) => p === "")) throw new TargetError(`${input}: the repo path has an empty segment`);
  const typed = parts[0] !== undefined ? TYPE_PREFIXES[parts[0]] : undefined;
  if (typed) {
    repoType = typed;
    parts = parts.slice(1);
  }
  let revision = "main";
  let path: string | undefined;
  // The repo id is `org/name` or, for a few historical models, a bare `name`.
  const treeAt = parts.findIndex((p) => p === "tree" || p === "blob" || p === "resolve");
  const repoParts = isUrl && treeAt >= 0 ? parts.slice(0, treeAt) : parts.slice(0, 2);
  if (isUrl && treeAt >= 0) {
    revision = parts[treeAt + 1] ?? "main";
    const sub = parts.slice(treeAt + 2).join("/");
    if (sub) path = sub;
  } else if (!isUrl && parts.length > 2) {
    path = parts.slice(2).join("/");
  }
  let last = repoParts[repoParts.length - 1] ?? "";
  const at = last.indexOf("@");
  if (!isUrl && at >= 0) {
    revision = safeDecode(last.slice(at + 1));
    last = last.slice(0, at);
    repoParts[repoParts.length - 1] = last;
  }
  const repoProblem = repoParts.length < 1 ? "no repo id" : repoIdProblem(repoParts.join("/"));
  if (repoProblem) throw new TargetError(`${input}: expected a repo id like org/name (${repoProblem})`);
  if (revisionOverride !== undefined) revision = revisionOverride;
  const badRevision = revisionProblem(revision);
  if (badRevision) throw new TargetError(`${input}: not a branch, tag or commit the Hub accepts (${badRevision})`);
  return { kind: "hub", repoType, repo: repoParts.join("/"), revision, input, ...(path ? { path } : {}) };
}

function tryUrl(s: string): URL | undefined {
  try {
    return new URL(s);
  } catch {
    return undefined;
  }
}
