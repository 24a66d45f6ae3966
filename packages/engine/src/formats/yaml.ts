import { isAlias, isCollection, isPair, parseAllDocuments, type Document } from "yaml";
import type { ByteSource } from "../source/byte-source.js";
import type { FormatContext, FormatHandler, Probe } from "./types.js";
import { readsAsYaml } from "./read-conditions.js";
import { sourceName } from "./remote-code.js";

/**
 * YAML configs that frameworks load with an unsafe loader: Lightning's `hparams.yaml` beside a checkpoint, Hydra and
 * NeMo `config.yaml`, any `.yaml`/`.yml` of a model folder. PyYAML's `UnsafeLoader` (and `yaml.load` before 5.1,
 * `FullLoader` before 5.4, ruamel's unsafe mode) constructs Python objects from tags:
 *
 * - `!!python/object/apply:M.f [args]` calls `M.f(*args)`, `!!python/object/new:M.C` calls `C.__new__`,
 * - `!!python/object:M.C` builds an instance and sets its state, `!!python/name:M.f` imports a name,
 *   `!!python/module:M` imports a module.
 *
 * Each becomes an import in the inventory, so the rules pack judges it exactly like a pickle global (`os.system`
 * is Alert, an unlisted name Warning). The document is parsed with the `yaml` package into its node tree, which
 * resolves `%TAG` directives, `!!` and `!<…>` verbatim tags, and is walked without constructing anything: aliases
 * are not followed (a billion-laughs file costs one node per alias), collections are walked iteratively within a
 * node budget. A file the parser rejects is a Warning, and its raw text is still searched for python tags.
 */

/** Largest YAML document read (bytes); real configs are KiBs. */
const MAX_YAML_BYTES = 16 * 1024 * 1024;
/** Flow-collection nesting accepted before parsing: the parser recurses and exhausts memory near 100 000 levels. */
const MAX_FLOW_DEPTH = 1000;
/** Nodes visited in one file. */
const MAX_NODES = 2_000_000;
/** Python tags recorded from one file. */
const MAX_TAGS = 10_000;

const PYTHON_TAG = "tag:yaml.org,2002:python/";
/** PyYAML's multi-constructors (`prefix` + dotted name) and what each does with the name. */
const NAMED_KINDS: ReadonlyArray<{ prefix: string; does: string }> = [
  { prefix: "object/apply:", does: "calls" },
  { prefix: "object/new:", does: "calls __new__ of" },
  { prefix: "object:", does: "instantiates" },
  { prefix: "name:", does: "imports" },
  { prefix: "module:", does: "imports the module" },
];
/** PyYAML's plain-data python tags: they build built-in values and import nothing. */
const DATA_KINDS = new Set([
  "none",
  "bool",
  "str",
  "unicode",
  "bytes",
  "int",
  "long",
  "float",
  "complex",
  "list",
  "tuple",
  "dict",
]);

export const yamlFormat: FormatHandler = {
  name: "yaml",
  // Recognised by name (inside an archive too) or by a leading directive; the test is in `inspect`.
  sniff: (probe: Probe) => probe.size > 0,
  async inspect(source: ByteSource, ctx: FormatContext, probe: Probe): Promise<boolean> {
    if (!readsAsYaml(probe.head, sourceName(ctx))) return false;
    const length = Math.min(source.size, MAX_YAML_BYTES);
    const text = decodeYaml(await source.read(0, length));
    if (source.size > MAX_YAML_BYTES) {
      ctx.indicate(
        "scan.limit",
        `YAML file of ${source.size} bytes is over the ${MAX_YAML_BYTES}-byte limit; its start was searched as text for python tags`,
      );
      scanRawTags(text, ctx);
      return true;
    }
    inspectYamlText(text, ctx);
    return true;
  },
};

/** Parses YAML text and records its python tags; a parse failure is reported and the raw text searched instead. */
export function inspectYamlText(text: string, ctx: FormatContext): void {
  const depth = flowDepth(text);
  if (depth > MAX_FLOW_DEPTH) {
    ctx.indicate(
      "scan.limit",
      `YAML collections nested deeper than ${MAX_FLOW_DEPTH} levels; searched as text for python tags only`,
    );
    scanRawTags(text, ctx);
    return;
  }
  let documents: Document.Parsed[];
  try {
    documents = parseAllDocuments(text, { uniqueKeys: false, prettyErrors: false }) as Document.Parsed[];
  } catch (e) {
    ctx.indicate("yaml.invalid", `YAML parser failed: ${(e as Error).message.slice(0, 200)}`);
    scanRawTags(text, ctx);
    return;
  }
  const tags = new TagRecorder(ctx);
  const errors = documents.flatMap((d) => d.errors);
  if (errors.length > 0) {
    const first = errors[0]!;
    ctx.indicate(
      "yaml.invalid",
      `not valid YAML (${errors.length} error${errors.length > 1 ? "s" : ""}; first: ${first.code} at offset ${first.pos[0]}: ${firstLine(first.message)}); searched as text for python tags as well`,
      first.pos[0],
    );
    scanRawTags(text, ctx, tags);
  }
  for (const [i, doc] of documents.entries()) {
    if (!walkDocument(doc, i, tags)) {
      ctx.indicate("scan.limit", `YAML document ${i} has more than ${MAX_NODES} nodes; the rest was not inspected`);
      return;
    }
  }
}

/** A value the tree walk may meet: a node, a key/value pair, or a plain JS value the parser left as a key. */
type Item = unknown;

/** Walks one document's node tree iteratively; false when the node budget runs out. */
function walkDocument(doc: Document.Parsed, index: number, tags: TagRecorder): boolean {
  const stack: Item[] = [doc.contents];
  while (stack.length > 0) {
    const item = stack.pop();
    if (++tags.nodes > MAX_NODES) return false;
    if (isPair(item)) {
      stack.push(item.value, item.key);
      continue;
    }
    if (item === null || typeof item !== "object" || isAlias(item)) continue; // aliases are never expanded
    const node = item as { tag?: string; range?: [number, number, number] };
    if (typeof node.tag === "string") tags.record(node.tag, node.range?.[0] ?? 0, `document ${index}`);
    if (isCollection(item)) for (let i = item.items.length - 1; i >= 0; i--) stack.push(item.items[i]);
  }
  return true;
}

/** Records python tags as imports, once per tag and file. */
class TagRecorder {
  nodes = 0;
  private readonly seen = new Set<string>();

  constructor(private readonly ctx: FormatContext) {}

  record(tag: string, offset: number, where: string): void {
    if (!tag.startsWith(PYTHON_TAG)) return;
    const rest = tag.slice(PYTHON_TAG.length);
    if (this.seen.has(rest)) return;
    if (this.seen.size >= MAX_TAGS) {
      if (this.seen.size === MAX_TAGS)
        this.ctx.indicate("scan.limit", `more than ${MAX_TAGS} distinct python tags; the rest were not judged`);
      this.seen.add(rest);
      return;
    }
    this.seen.add(rest);
    const kind = NAMED_KINDS.find((k) => rest.startsWith(k.prefix));
    if (!kind) {
      if (!DATA_KINDS.has(rest))
        this.ctx.indicate(
          "yaml.unknown_python_tag",
          `!!python/${clip(rest)} (${where}) is not a tag PyYAML knows`,
          offset,
        );
      return;
    }
    const dotted = rest.slice(kind.prefix.length);
    const { module, name } = kind.prefix === "module:" ? { module: dotted, name: "" } : splitPythonName(dotted);
    if (!module) {
      this.ctx.indicate("yaml.unknown_python_tag", `!!python/${clip(rest)} (${where}) names nothing`, offset);
      return;
    }
    this.ctx.inventory.imports.push({
      module,
      name,
      member: this.ctx.member,
      offsets: [offset],
      opcode: "yaml-tag",
      calls: [`!!python/${clip(rest)} (${where}): a YAML unsafe loader ${kind.does} ${clip(dotted)}`],
    });
  }
}

/** PyYAML's find_python_name: the text after the last dot is the attribute, no dot means `builtins`. */
function splitPythonName(dotted: string): { module: string; name: string } {
  const dot = dotted.lastIndexOf(".");
  if (dot < 0) return { module: dotted ? "builtins" : "", name: dotted };
  return { module: dotted.slice(0, dot), name: dotted.slice(dot + 1) };
}

/**
 * Python tags in text the parser could not read: `!!python/…`, `!<tag:yaml.org,2002:python/…>` and local handles
 * declared by `%TAG` lines. Less exact than the tree (no scoping of directives to documents), so it only runs on
 * files that are already a Warning.
 */
function scanRawTags(text: string, ctx: FormatContext, tags = new TagRecorder(ctx)): void {
  const handles = new Map<string, string>([["!!", "tag:yaml.org,2002:"]]);
  for (const m of text.matchAll(/^%TAG[ \t]+(![\w-]*!?)[ \t]+(\S+)/gm)) handles.set(m[1]!, m[2]!);
  let count = 0;
  for (const m of text.matchAll(/!<([^>\s]{1,1024})>|!([^\s,[\]{}]{1,1024})/g)) {
    if (++count > MAX_NODES) return;
    const tag = m[1] !== undefined ? decodeURIComponentSafe(m[1]) : resolveShorthand(m[2]!, handles);
    if (tag !== undefined) tags.record(tag, m.index, "raw text");
  }
}

/** `!!x` (secondary handle), `!h!x` (a named handle), `!x` (the primary handle, local unless `%TAG !` says). */
function resolveShorthand(afterBang: string, handles: Map<string, string>): string | undefined {
  if (afterBang.startsWith("!")) return handles.get("!!")! + decodeURIComponentSafe(afterBang.slice(1));
  const named = /^([\w-]+)!(.*)$/.exec(afterBang);
  if (named && handles.has(`!${named[1]}!`)) return handles.get(`!${named[1]}!`)! + decodeURIComponentSafe(named[2]!);
  const primary = handles.get("!");
  return primary !== undefined ? primary + decodeURIComponentSafe(afterBang) : undefined;
}

/** Deepest `[`/`{` nesting outside quoted scalars and comments (an upper bound is all that is needed). */
function flowDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let quote = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === "\\" && quote === '"') i++;
      else if (c === quote) quote = "";
      continue;
    }
    // A quote opens a quoted scalar only where a scalar can start (`it's` is plain text).
    if ((c === '"' || c === "'") && (i === 0 || " \t\n[{,:-?".includes(text[i - 1]!))) quote = c;
    else if (c === "[" || c === "{") max = Math.max(max, ++depth);
    else if ((c === "]" || c === "}") && depth > 0) depth--;
    else if (c === "\n") quote = "";
  }
  return max;
}

/** `%YAML 1.1` or `%TAG` as the first line: YAML whatever the file is called. */
/** PyYAML reads UTF-8, and UTF-16 when the stream starts with its byte-order mark. */
function decodeYaml(bytes: Uint8Array): string {
  const encoding =
    bytes[0] === 0xff && bytes[1] === 0xfe ? "utf-16le" : bytes[0] === 0xfe && bytes[1] === 0xff ? "utf-16be" : "utf-8";
  return new TextDecoder(encoding, { fatal: false }).decode(bytes);
}

function decodeURIComponentSafe(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function firstLine(text: string): string {
  return (text.split("\n")[0] ?? "").slice(0, 160);
}

function clip(text: string): string {
  return text.length > 160 ? `${text.slice(0, 160)}…` : text;
}
