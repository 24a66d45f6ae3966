import type { ByteSource } from "../source/byte-source.js";
import type { FormatContext, FormatHandler, Probe } from "./types.js";
import { analyzeTemplate, MAX_TEMPLATE_CHARS, type TemplateFinding, type TemplateFindingKind } from "./jinja.js";
import { readsAsTextTemplate } from "./read-conditions.js";
import { readJsonObject, sourceName } from "./remote-code.js";

/**
 * Jinja templates judged by what they contain rather than by where they sit. A renderer does not care what a
 * template file is called (`prompt.template`, `system.txt`, a bare `template`), nor which JSON field or GGUF key
 * holds it; any string with template syntax that reaches a dunder, a process/eval name or an SSTI gadget is Alert.
 *
 * Only strings containing `{{` or `{%` are analysed, and only the findings that show a route to Python objects
 * count: text that merely looks a little like a template (and so does not parse) is not a finding here. The
 * known chat-template carriers (`chat_template` fields, `tokenizer.chat_template*` keys, `.jinja` files) keep their
 * full analysis, including the Warning for a template that does not parse.
 */

/** Findings that show a route from the template to Python objects. */
const ROUTE_KINDS = new Set<TemplateFindingKind>([
  "dunder",
  "dangerous_name",
  "gadget",
  "ssti_global",
  "dynamic_attribute",
]);
/** Template syntax: an expression or a statement tag. */
const TEMPLATE_SYNTAX = /\{\{|\{%/;
/** JSON string values visited in one document; depth of the walk. */
const MAX_JSON_STRINGS = 200_000;
const MAX_JSON_DEPTH = 256;

/** Analyses one string if it has template syntax and records the findings that reach Python objects. */
export function reportEmbeddedTemplate(ctx: FormatContext, text: string, label: string, offset?: number): number {
  if (!TEMPLATE_SYNTAX.test(text)) return 0;
  const findings = analyzeTemplate(text).filter((f) => ROUTE_KINDS.has(f.kind));
  for (const f of findings) ctx.indicate(`template.${f.kind}`, describe(f, label), offset);
  return findings.length;
}

function describe(f: TemplateFinding, label: string): string {
  const where = f.expression ? ` in ${JSON.stringify(f.expression)}` : "";
  const what: Record<string, string> = {
    dunder: `access to ${f.name}`,
    dangerous_name: `use of ${f.name}`,
    gadget: `attribute access on the global ${f.name}`,
    ssti_global: `reference to the web-framework global ${f.name}`,
    dynamic_attribute: "attribute name computed at render time",
  };
  return `${label}: Jinja template ${what[f.kind] ?? f.kind}${where}`;
}

/**
 * Every string of a JSON document (keys excluded) that holds template syntax, except the fields listed in `skip`
 * (analysed by their own reader). Walked iteratively within a string and depth budget.
 */
export function reportJsonTemplates(ctx: FormatContext, root: unknown, skip: ReadonlySet<string>): number {
  const stack: Array<{ value: unknown; path: string; depth: number }> = [{ value: root, path: "", depth: 0 }];
  let strings = 0;
  let found = 0;
  while (stack.length > 0) {
    const { value, path, depth } = stack.pop()!;
    if (typeof value === "string") {
      if (++strings > MAX_JSON_STRINGS) {
        ctx.indicate(
          "scan.limit",
          `more than ${MAX_JSON_STRINGS} JSON strings; the rest were not searched for templates`,
        );
        return found;
      }
      found += reportEmbeddedTemplate(ctx, value, `JSON field ${path || "(top)"}`);
      continue;
    }
    if (value === null || typeof value !== "object") continue;
    if (depth >= MAX_JSON_DEPTH) {
      ctx.indicate("scan.limit", `JSON nested deeper than ${MAX_JSON_DEPTH} at ${path}; not searched for templates`);
      continue;
    }
    const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.entries(value);
    for (const [key, child] of entries) {
      const childPath = Array.isArray(value) ? `${path}[${key}]` : path ? `${path}.${key}` : key;
      if (depth === 0 && skip.has(key)) continue;
      stack.push({ value: child, path: childPath, depth: depth + 1 });
    }
  }
  return found;
}

/** Text files with template syntax (`.template`, `.txt`, no extension …), whatever they are used for. */
export const textTemplateFormat: FormatHandler = {
  name: "jinja-text",
  sniff: (probe: Probe) => probe.size <= MAX_TEMPLATE_CHARS * 4 && !probe.head.includes(0),
  async inspect(source: ByteSource, ctx: FormatContext, probe: Probe): Promise<boolean> {
    const name = sourceName(ctx);
    // Bare .jinja files are the chat-template reader's (full analysis): not judged a second time.
    if (!readsAsTextTemplate(probe.head, name)) return false;
    let text: string;
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(await source.read(0, source.size));
    } catch {
      return false; // not text
    }
    if (text.includes("\0")) return false;
    return reportEmbeddedTemplate(ctx, text, name.split(/[/\\!]/).pop() ?? "template") > 0;
  },
};

/** Templates in any string field of a JSON document (the `chat_template` field has its own, fuller reader). */
export const jsonTemplateFormat: FormatHandler = {
  name: "jinja-json",
  sniff: (probe: Probe) => firstNonSpace(probe.head) === 0x7b,
  async inspect(source: ByteSource, ctx: FormatContext): Promise<boolean> {
    const json = await readJsonObject(source, ctx);
    return json !== undefined && reportJsonTemplates(ctx, json, new Set(["chat_template"])) > 0;
  },
};

function firstNonSpace(bytes: Uint8Array): number | undefined {
  let i = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0; // UTF-8 BOM
  while (i < bytes.length && (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d || bytes[i] === 0x09)) i++;
  return bytes[i];
}
