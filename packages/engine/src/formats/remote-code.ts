import type { ByteSource } from "../source/byte-source.js";
import type { FormatContext, FormatHandler, Probe } from "./types.js";

/**
 * Code that a model repository asks its loader to import. Hugging Face transformers reads `auto_map` from
 * config.json / tokenizer_config.json (and `custom_pipelines`) and, with `trust_remote_code=True`, imports the
 * named classes from `.py` files of the repo (or of another repo, `org/repo--module.Class`). That Python is not
 * judged here, so each reference is a Warning that names the modules a reviewer must read; `.py` files that sit
 * beside model weights get the same treatment through `remoteCodeFindings`.
 */

/** Largest JSON config read whole; config.json and tokenizer_config.json are KiBs to a few MiB. */
export const MAX_JSON_BYTES = 16 * 1024 * 1024;
/** References listed in one message. */
const MAX_LISTED = 20;

/** The member name inside a container, or the file path at top level. */
export function sourceName(ctx: FormatContext): string {
  return ctx.member || ctx.inventory.path;
}

/**
 * Reads a source as one JSON object, or undefined when it is not one (too large, not UTF-8, not JSON, not an
 * object). `tokenizer.json` is skipped: it is the fast tokenizer's vocabulary (often tens of MiB), and
 * transformers takes neither templates nor auto_map from it.
 */
export async function readJsonObject(
  source: ByteSource,
  ctx: FormatContext,
): Promise<Record<string, unknown> | undefined> {
  if (source.size > MAX_JSON_BYTES || /(^|\/)tokenizer\.json$/i.test(sourceName(ctx))) return undefined;
  const bytes = await source.read(0, source.size);
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    return undefined; // not JSON (or nested beyond the parser's stack): not a config this handler knows
  }
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/** `"AutoModel": "modeling_x.XModel"`, `"AutoTokenizer": ["tokenization_x.XTok", null]`, `org/repo--mod.Class`. */
export function autoMapReferences(autoMap: unknown): string[] {
  if (typeof autoMap !== "object" || autoMap === null || Array.isArray(autoMap)) return [];
  const refs: string[] = [];
  for (const value of Object.values(autoMap as Record<string, unknown>)) {
    const items = Array.isArray(value) ? (value as unknown[]) : [value];
    for (const item of items) if (typeof item === "string" && item.length > 0) refs.push(item);
  }
  return refs;
}

/** `custom_pipelines: { task: { impl: "pipeline_x.MyPipeline", … } }` is loaded the same way. */
function customPipelineReferences(pipelines: unknown): string[] {
  if (typeof pipelines !== "object" || pipelines === null) return [];
  const refs: string[] = [];
  for (const value of Object.values(pipelines as Record<string, unknown>)) {
    const impl = typeof value === "object" && value !== null ? (value as { impl?: unknown }).impl : undefined;
    if (typeof impl === "string") refs.push(impl);
  }
  return refs;
}

/** `org/repo--modeling_x.XModel` → the file `modeling_x.py` of `org/repo`; `modeling_x.XModel` → this repo. */
export function moduleFileOf(reference: string): { repo?: string; file: string } {
  const split = reference.indexOf("--");
  const repo = split > 0 ? reference.slice(0, split) : undefined;
  const path = split > 0 ? reference.slice(split + 2) : reference;
  const dot = path.lastIndexOf(".");
  const module = dot > 0 ? path.slice(0, dot) : path;
  return { ...(repo ? { repo } : {}), file: `${module.replaceAll(".", "/")}.py` };
}

/** JSON configs whose `auto_map` / `custom_pipelines` name Python classes to import from the repo. */
export const remoteCodeConfigFormat: FormatHandler = {
  name: "hf-config",
  sniff: (probe: Probe) => looksLikeJsonObject(probe.head),
  async inspect(source: ByteSource, ctx: FormatContext): Promise<boolean> {
    const json = await readJsonObject(source, ctx);
    if (!json || !("auto_map" in json || "custom_pipelines" in json)) return false;
    const refs = [...autoMapReferences(json["auto_map"]), ...customPipelineReferences(json["custom_pipelines"])];
    if (refs.length === 0) {
      ctx.indicate("remote_code.auto_map", "auto_map / custom_pipelines present but names no class");
      return true;
    }
    const local = new Set<string>();
    const external = new Set<string>();
    for (const ref of refs) {
      const { repo, file } = moduleFileOf(ref);
      if (repo) external.add(`${file} of ${repo}`);
      else local.add(file);
    }
    if (local.size > 0)
      ctx.indicate(
        "remote_code.auto_map",
        `loading with trust_remote_code=True imports ${list(local)} from this repository (classes ${list(new Set(refs))})`,
      );
    if (external.size > 0)
      ctx.indicate("remote_code.auto_map_external", `loading with trust_remote_code=True imports ${list(external)}`);
    return true;
  },
};

function list(items: Set<string>): string {
  const all = [...items];
  const shown = all.slice(0, MAX_LISTED).join(", ");
  return all.length > MAX_LISTED ? `${shown} and ${all.length - MAX_LISTED} more` : shown;
}

function looksLikeJsonObject(head: Uint8Array): boolean {
  let i = head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf ? 3 : 0; // UTF-8 BOM
  while (i < head.length && (head[i] === 0x20 || head[i] === 0x0a || head[i] === 0x0d || head[i] === 0x09)) i++;
  return head[i] === 0x7b;
}

/** Formats whose files are model weights or serialized models (a `.py` beside them is likely loader code). */
const MODEL_FORMATS = new Set([
  "pickle",
  "pytorch",
  "pytorch-legacy",
  "torchscript",
  "safetensors",
  "gguf",
  "onnx",
  "npy",
  "npz",
  "joblib",
  "keras",
  "h5",
  "hdf5",
  "savedmodel",
  "tflite",
]);

export interface RemoteCodeFinding {
  /** The `.py` file the finding belongs to (as given). */
  path: string;
  id: string;
  message: string;
}

/**
 * Given the files of one scan, flags each `.py` file that sits in the same folder as model weights, or in the folder
 * just above them (a repo root with weights in a subfolder such as `onnx/`). Python is not executed or judged here; the finding says
 * that a reviewer must read it before `trust_remote_code=True` or a custom loader runs it.
 */
export function remoteCodeFindings(
  files: ReadonlyArray<{ path: string; formats: readonly string[] }>,
): RemoteCodeFinding[] {
  const weightDirs = new Map<string, string>();
  for (const file of files)
    if (file.formats.some((f) => MODEL_FORMATS.has(f))) {
      const dir = dirOf(file.path);
      if (!weightDirs.has(dir)) weightDirs.set(dir, file.path);
    }
  if (weightDirs.size === 0) return [];
  const out: RemoteCodeFinding[] = [];
  for (const file of files) {
    if (!/\.py$/i.test(file.path)) continue;
    const dir = dirOf(file.path);
    const weights = [...weightDirs].find(([d]) => d === dir || isParentOf(dir, d));
    if (!weights) continue;
    out.push({
      path: file.path,
      id: "remote_code.python_file",
      message: `Python source beside model weights (${baseName(weights[1])}); it runs if the model is loaded with trust_remote_code=True or by a custom loader, and is not analysed here`,
    });
  }
  return out;
}

function normalise(path: string): string {
  return path.replaceAll("\\", "/");
}

function dirOf(path: string): string {
  const p = normalise(path);
  const slash = p.lastIndexOf("/");
  return slash < 0 ? "" : p.slice(0, slash);
}

function baseName(path: string): string {
  const p = normalise(path);
  return p.slice(p.lastIndexOf("/") + 1);
}

/** `other` is a direct subfolder of `dir` (one level: a repo root above `onnx/` or `unet/`, not a whole tree). */
function isParentOf(dir: string, other: string): boolean {
  return other !== dir && dirOf(other) === dir;
}
