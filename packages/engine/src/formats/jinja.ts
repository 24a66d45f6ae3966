import type { ByteSource } from "../source/byte-source.js";
import type { FormatContext, FormatHandler, Probe } from "./types.js";
import { readsAsJinjaFile } from "./read-conditions.js";
import { readJsonObject, sourceName } from "./remote-code.js";
import { MAX_TEMPLATE_CHARS, analyzeTemplate, type TemplateFinding } from "./template-analysis.js";

export {
  analyzeTemplate,
  MAX_TEMPLATE_CHARS,
  printExpression,
  type TemplateFinding,
  type TemplateFindingKind,
} from "./template-analysis.js";

/**
 * Chat-template carriers read as files: `tokenizer_config.json` / `chat_template.json` (`chat_template` as a string
 * or a list of named templates) and bare `chat_template.jinja` files. Each template is analysed statically by
 * template-analysis.ts (never rendered) and every finding becomes an indicator.
 */

/** Where a chat template came from, for indicator messages. */
export interface TemplateOrigin {
  /** Indicator id prefix: `gguf.chat_template`, `chat_template`. */
  prefix: string;
  /** The key or entry holding the template: `tokenizer.chat_template.tool_use`. */
  label: string;
}

/** Analyses a template and records each finding as an indicator `<prefix>.<kind>`. */
export function reportTemplate(
  ctx: FormatContext,
  text: string,
  origin: TemplateOrigin,
  offset?: number,
  originalLength = text.length,
): void {
  for (const f of analyzeTemplate(text, originalLength))
    ctx.indicate(`${origin.prefix}.${f.kind}`, describe(f, origin.label), offset);
}

function describe(f: TemplateFinding, label: string): string {
  const where = f.expression ? ` in ${JSON.stringify(f.expression)}` : "";
  switch (f.kind) {
    case "dunder":
      return `${label}: access to ${f.name}${where}`;
    case "dangerous_name":
      return `${label}: use of ${f.name}${where}`;
    case "gadget":
      return `${label}: attribute access on the global ${f.name}${where}`;
    case "ssti_global":
      return `${label}: reference to the web-framework global ${f.name}${where}`;
    case "dynamic_attribute":
      return `${label}: attribute name computed at render time${where}`;
    case "unparseable":
      return `${label}: template could not be parsed (${f.name}); searched by tokens only`;
    case "too_large":
      return `${label}: template of ${f.name} is over the analysis limit; ${f.expression}`;
  }
}

/**
 * Chat templates in a tokenizer_config.json / chat_template.json object: `chat_template` is a string or a list of
 * `{name, template}` (transformers' named templates, e.g. `default`, `tool_use`, `rag`).
 */
export function chatTemplatesOf(json: Record<string, unknown>): Array<{ label: string; template: string }> {
  const value = json["chat_template"];
  if (typeof value === "string") return [{ label: "chat_template", template: value }];
  if (!Array.isArray(value)) return [];
  const out: Array<{ label: string; template: string }> = [];
  for (const [i, entry] of value.entries()) {
    if (typeof entry !== "object" || entry === null) continue;
    const { name, template } = entry as { name?: unknown; template?: unknown };
    if (typeof template !== "string") continue;
    out.push({ label: `chat_template[${typeof name === "string" ? name : i}]`, template });
  }
  return out;
}

/** JSON files that carry chat templates: tokenizer_config.json, chat_template.json. */
export const chatTemplateJsonFormat: FormatHandler = {
  name: "chat-template",
  sniff: (probe: Probe) => firstNonSpace(probe.head) === 0x7b,
  async inspect(source: ByteSource, ctx: FormatContext): Promise<boolean> {
    const json = await readJsonObject(source, ctx);
    if (!json) return false;
    const templates = chatTemplatesOf(json);
    if (templates.length === 0 && !("chat_template" in json)) return false;
    if (templates.length === 0)
      ctx.indicate("chat_template.unparseable", "chat_template is neither a string nor a list");
    for (const t of templates) reportTemplate(ctx, t.template, { prefix: "chat_template", label: t.label });
    return true;
  },
};

/** A bare template file (`chat_template.jinja`, newer transformers): recognised by its name, read as UTF-8. */
export const jinjaFileFormat: FormatHandler = {
  name: "jinja",
  sniff: (probe: Probe) => probe.size <= MAX_TEMPLATE_CHARS * 4,
  async inspect(source: ByteSource, ctx: FormatContext): Promise<boolean> {
    if (!readsAsJinjaFile(sourceName(ctx))) return false;
    const bytes = await source.read(0, source.size);
    const text = new TextDecoder("utf-8", { fatal: false }).decode(bytes);
    reportTemplate(ctx, text, { prefix: "chat_template", label: sourceName(ctx).split("/").pop() ?? "template" });
    return true;
  },
};

function firstNonSpace(bytes: Uint8Array): number | undefined {
  let i = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0; // UTF-8 BOM
  while (i < bytes.length && (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d || bytes[i] === 0x09)) i++;
  return bytes[i];
}
