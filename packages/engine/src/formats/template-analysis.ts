import * as jinja from "@huggingface/jinja";

/**
 * Static analysis of Jinja chat templates (GGUF `tokenizer.chat_template*`, `tokenizer_config.json`,
 * `chat_template.json`, `chat_template.jinja`). A chat template is a program that llama-cpp-python,
 * transformers and others render with the user's messages; rendered outside a sandbox (llama-cpp-python before
 * 0.2.72, CVE-2024-34359) an expression such as `().__class__.__base__.__subclasses__()` reaches `os.popen`.
 * Templates are tokenised and parsed into an AST with @huggingface/jinja and never rendered. The AST walk looks for
 * the building blocks every known Jinja SSTI payload needs: dunder attributes (also spelt as strings, concatenated,
 * or through `|attr`), process/eval names, and the Jinja/Flask globals whose `__init__.__globals__` leads to `os`.
 * A template the parser cannot read is a Warning, and its tokens (or raw text) are still searched for the same
 * building blocks, so an exotic payload that defeats the parser does not pass.
 */

export type TemplateFindingKind =
  "dunder" | "dangerous_name" | "gadget" | "ssti_global" | "dynamic_attribute" | "unparseable" | "too_large";

export interface TemplateFinding {
  kind: TemplateFindingKind;
  /** The attribute, name or global involved (or the parser's message for `unparseable`). */
  name: string;
  /** The offending expression, rendered back to template syntax (bounded). */
  expression: string;
}

/** Longest template parsed (characters; GGUF reads at most this many bytes): real chat templates are a few KiB,
 * and parsing 1 MiB takes under a second. */
export const MAX_TEMPLATE_CHARS = 1024 * 1024;
/** AST depth walked; the parser itself overflows the JS stack on deeper input (reported as unparseable). */
const MAX_AST_DEPTH = 400;
/** Distinct findings kept per template; a payload repeated a thousand times is still one finding per name. */
const MAX_FINDINGS = 64;
const MAX_EXPRESSION_CHARS = 240;

/** Any `__name__` inside a name or string: every Python object-graph escape goes through one. */
const DUNDER = /__[A-Za-z_][A-Za-z0-9_]*?__/;
/**
 * Attributes with no use in a chat template that lead to code execution or introspection. `_module` is the
 * `warnings.catch_warnings` field used by the CVE-2024-34359 payload; the frame/code names walk to globals.
 */
const DANGEROUS_ATTRIBUTES = new Set([
  "os",
  "subprocess",
  "builtins",
  "popen",
  "system",
  "spawnl",
  "spawnv",
  "execl",
  "execv",
  "execve",
  "eval",
  "exec",
  "check_output",
  "check_call",
  "getoutput",
  "import_module",
  "load_module",
  "_module",
  "func_globals",
  "f_globals",
  "f_locals",
  "f_back",
  "gi_frame",
  "gi_code",
  "cr_frame",
  "tb_frame",
  "co_code",
  "mro",
]);
/** Names that are not Jinja globals; if a renderer exposes them, calling them runs code or reads files. */
const DANGEROUS_NAMES = new Set([
  "os",
  "sys",
  "subprocess",
  "builtins",
  "importlib",
  "eval",
  "exec",
  "compile",
  "open",
  "getattr",
  "setattr",
  "globals",
  "locals",
  "vars",
  "breakpoint",
  "__import__",
]);
/**
 * Jinja's default globals are functions/classes; attribute access on the object itself (`cycler.__init__`,
 * `lipsum.__globals__`) is the classic road to `os`. Calling them (`namespace(found=false)`) is normal.
 */
const GADGETS = new Set(["cycler", "joiner", "namespace", "lipsum", "range", "dict", "self"]);
/** Flask/Jinja-in-web globals used by public SSTI payloads; chat renderers never provide them. */
const SSTI_GLOBALS = new Set(["request", "config", "url_for", "get_flashed_messages", "lipsum", "self"]);
/** Statements that make the environment load other templates from its loader (the file system). */
const LOADER_STATEMENTS = new Set(["import", "include", "extends", "from"]);
/** Filters that turn a constant string into another constant string (used to hide `__class__`). */
const STRING_FILTERS = new Set([
  "lower",
  "upper",
  "reverse",
  "trim",
  "title",
  "capitalize",
  "join",
  "replace",
  "string",
]);

/** Analyses one template. Never renders it. */
export function analyzeTemplate(text: string, originalLength = text.length): TemplateFinding[] {
  const findings = new Findings();
  const source = text.length > MAX_TEMPLATE_CHARS ? text.slice(0, MAX_TEMPLATE_CHARS) : text;
  if (source.length < originalLength)
    findings.add("too_large", `${originalLength} characters`, `only the first ${source.length} analysed`);
  let tokens: Token[];
  try {
    tokens = tokenize(source);
  } catch (e) {
    findings.add("unparseable", errorMessage(e), "");
    scanRawText(source, findings);
    return findings.list();
  }
  let program: AstNode;
  try {
    program = parse(tokenize(source)) as AstNode;
  } catch (e) {
    findings.add("unparseable", errorMessage(e), "");
    scanTokens(tokens, findings);
    return findings.list();
  }
  const walker = new AstWalker(findings, boundNames(program));
  if (!walker.walkStatements(program, "body", 0)) findings.add("unparseable", "template nested too deeply", "");
  return findings.list();
}

function errorMessage(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  return message.slice(0, 200);
}

// ---- findings ----

class Findings {
  private readonly seen = new Map<string, TemplateFinding>();

  add(kind: TemplateFindingKind, name: string, expression: string): void {
    const key = `${kind}\0${name}`;
    if (this.seen.has(key) || this.seen.size >= MAX_FINDINGS) return;
    this.seen.set(key, { kind, name, expression: clip(expression) });
  }

  list(): TemplateFinding[] {
    return [...this.seen.values()];
  }
}

function clip(text: string): string {
  return text.length > MAX_EXPRESSION_CHARS ? `${text.slice(0, MAX_EXPRESSION_CHARS)}…` : text;
}

/** Checks an attribute name or constant string for a dunder and returns the dunder found. */
function dunderIn(text: string): string | undefined {
  return DUNDER.exec(text)?.[0];
}

// ---- the AST walk ----

/** The parser's nodes are plain class instances with a `type`; they are walked structurally. */
interface AstNode {
  type: string;
  [key: string]: unknown;
}

function isNode(value: unknown): value is AstNode {
  return typeof value === "object" && value !== null && typeof (value as { type?: unknown }).type === "string";
}

/** Node types of `{% … %}` statements; anything else in a body is an output expression. */
const STATEMENT_TYPES = new Set(["If", "For", "Set", "Macro", "FilterStatement", "CallStatement", "Break", "Continue"]);
/** Statement lists: their direct string literals are template text, not expressions. */
const BODY_KEYS = ["body", "alternate", "defaultBlock"];

/** Names the template binds itself (`set`, `for`, macro names and parameters), flow-insensitively. */
function boundNames(program: AstNode): Set<string> {
  const names = new Set<string>();
  const visit = (node: unknown, depth: number): void => {
    if (depth > MAX_AST_DEPTH || !isNode(node)) return;
    if (node.type === "Set") bindTarget(node["assignee"], names);
    if (node.type === "For") bindTarget(node["loopvar"], names);
    if (node.type === "Macro") {
      bindTarget(node["name"], names);
      for (const arg of (node["args"] as unknown[]) ?? [])
        bindTarget(isNode(arg) && arg.type === "KeywordArgumentExpression" ? arg["key"] : arg, names);
    }
    for (const child of childrenOf(node)) visit(child, depth + 1);
  };
  visit(program, 0);
  return names;
}

function bindTarget(target: unknown, names: Set<string>): void {
  if (!isNode(target)) return;
  if (target.type === "Identifier" && typeof target["value"] === "string") names.add(target["value"]);
  if (target.type === "TupleLiteral" && Array.isArray(target["value"]))
    for (const item of target["value"]) bindTarget(item, names);
}

/** Every node below `node` (arrays, Map entries of object literals, node-valued properties). */
function childrenOf(node: AstNode): unknown[] {
  const out: unknown[] = [];
  for (const [key, value] of Object.entries(node)) {
    if (key === "type" || key === "operator") continue;
    if (Array.isArray(value)) out.push(...(value as unknown[]));
    else if (value instanceof Map) for (const [k, v] of value as Map<unknown, unknown>) out.push(k, v);
    else if (isNode(value)) out.push(value);
  }
  return out;
}

/**
 * The sub-expressions of an expression whose names are free names. Attribute names (`a.b`), keyword-argument
 * keys, filter and test names are not variables: attributes are checked by `inspectMember`/`inspectFilter`.
 */
function expressionChildren(node: AstNode): unknown[] {
  switch (node.type) {
    case "MemberExpression":
      return node["computed"] ? [node["object"], node["property"]] : [node["object"]];
    case "KeywordArgumentExpression":
      return [node["value"]];
    case "TestExpression":
      return [node["operand"]];
    case "FilterExpression": {
      const filter = node["filter"];
      const args = isNode(filter) && filter.type === "CallExpression" ? (filter["args"] as unknown[]) : [];
      return [node["operand"], ...args];
    }
    default:
      return childrenOf(node);
  }
}

class AstWalker {
  /** The outermost expression being walked: what a finding shows. */
  private root: AstNode | undefined;

  constructor(
    private readonly findings: Findings,
    private readonly bound: Set<string>,
  ) {}

  /** Walks a statement list; false when the tree is deeper than the walker allows. */
  walkStatements(owner: AstNode, key: string, depth: number): boolean {
    const list = owner[key];
    if (!Array.isArray(list)) return true;
    for (const stmt of list) {
      if (!isNode(stmt) || stmt.type === "StringLiteral" || stmt.type === "Comment") continue; // template text
      // `{{ expr }}` appears in a body as the expression itself.
      const ok = STATEMENT_TYPES.has(stmt.type) ? this.walkStatement(stmt, depth + 1) : this.walkRoot(stmt, depth);
      if (!ok) return false;
    }
    return true;
  }

  private walkStatement(stmt: AstNode, depth: number): boolean {
    if (depth > MAX_AST_DEPTH) return false;
    let ok = true;
    for (const [key, value] of Object.entries(stmt)) {
      if (BODY_KEYS.includes(key)) ok &&= this.walkStatements(stmt, key, depth);
      else if (key !== "type" && key !== "operator") ok &&= this.walkRoot(value, depth);
    }
    return ok;
  }

  /** An expression position of a statement (or the statement itself when it is an output expression). */
  private walkRoot(value: unknown, depth: number): boolean {
    const values = Array.isArray(value) ? (value as unknown[]) : [value];
    for (const v of values) {
      if (!isNode(v)) continue;
      this.root = v;
      if (!this.walkExpression(v, depth + 1)) return false;
    }
    return true;
  }

  private walkExpression(node: AstNode, depth: number): boolean {
    if (depth > MAX_AST_DEPTH) return false;
    this.inspectNode(node);
    for (const child of expressionChildren(node)) {
      if (isNode(child) && !this.walkExpression(child, depth + 1)) return false;
    }
    return true;
  }

  private inspectNode(node: AstNode): void {
    switch (node.type) {
      case "MemberExpression":
        return this.inspectMember(node);
      case "Identifier":
        return this.inspectName(node);
      case "FilterExpression":
        return this.inspectFilter(node);
      case "StringLiteral":
      case "BinaryExpression":
        return this.inspectConstant(node);
      case "KeywordArgumentExpression":
        return this.inspectKeyword(node);
    }
  }

  /** A constant string expression (literal, concatenation, filtered literal) that spells a dunder. */
  private inspectConstant(node: AstNode): void {
    const folded = foldString(node, 0);
    const dunder = folded !== undefined ? dunderIn(folded) : undefined;
    if (dunder) this.report("dunder", dunder);
  }

  /** `dict(__class__=1)|first` spells a dunder through a keyword name; no template needs one. */
  private inspectKeyword(node: AstNode): void {
    const key = identifierName(node["key"]);
    const dunder = key !== undefined ? dunderIn(key) : undefined;
    if (dunder) this.report("dunder", dunder);
  }

  private inspectMember(node: AstNode): void {
    const object = node["object"];
    const property = node["property"];
    const name = node["computed"] ? (isNode(property) ? foldString(property, 0) : undefined) : identifierName(property);
    if (name !== undefined) this.checkAttribute(name);
    const objectName = identifierName(object);
    if (objectName !== undefined && GADGETS.has(objectName) && !this.bound.has(objectName))
      this.report("gadget", objectName);
  }

  private checkAttribute(name: string): void {
    const dunder = dunderIn(name);
    if (dunder) this.report("dunder", dunder);
    else if (DANGEROUS_ATTRIBUTES.has(name)) this.report("dangerous_name", name);
  }

  /** A free name (property names of `a.b` are not visited as names: they are checked as attributes). */
  private inspectName(node: AstNode): void {
    const name = identifierName(node);
    if (name === undefined || this.bound.has(name)) return;
    const dunder = dunderIn(name);
    if (dunder) this.report("dunder", dunder);
    else if (DANGEROUS_NAMES.has(name)) this.report("dangerous_name", name);
    else if (SSTI_GLOBALS.has(name)) this.report("ssti_global", name);
  }

  /** `x|attr(name)`: a constant name is an attribute access like `x.name`; a computed one hides it. */
  private inspectFilter(node: AstNode): void {
    this.inspectConstant(node);
    const filter = node["filter"];
    if (!isNode(filter) || filter.type !== "CallExpression" || identifierName(filter["callee"]) !== "attr") return;
    const arg = (filter["args"] as unknown[])[0];
    const name = isNode(arg) ? foldString(arg, 0) : undefined;
    if (name === undefined) this.report("dynamic_attribute", "attr");
    else this.checkAttribute(name);
  }

  private report(kind: TemplateFindingKind, name: string): void {
    this.findings.add(kind, name, this.root ? printExpression(this.root, 0) : "");
  }
}

function identifierName(node: unknown): string | undefined {
  return isNode(node) && node.type === "Identifier" && typeof node["value"] === "string" ? node["value"] : undefined;
}

/** The constant string an expression always produces, for the few forms used to disguise attribute names. */
function foldString(node: AstNode, depth: number): string | undefined {
  if (depth > 32) return undefined;
  if (node.type === "StringLiteral") return typeof node["value"] === "string" ? node["value"] : undefined;
  if (node.type === "BinaryExpression") {
    const op = (node["operator"] as { value?: string } | undefined)?.value;
    if (op === "*") return foldRepeat(node, depth);
    if (op !== "~" && op !== "+") return undefined;
    const left = isNode(node["left"]) ? foldString(node["left"], depth + 1) : undefined;
    const right = isNode(node["right"]) ? foldString(node["right"], depth + 1) : undefined;
    return left !== undefined && right !== undefined ? left + right : undefined;
  }
  if (node.type === "ArrayLiteral" || node.type === "TupleLiteral") {
    const parts = (node["value"] as unknown[]).map((v) => (isNode(v) ? foldString(v, depth + 1) : undefined));
    return parts.every((p) => p !== undefined) ? parts.join("") : undefined;
  }
  if (node.type === "FilterExpression") return foldFilter(node, depth);
  return undefined;
}

/** `'_' * 2`: a short string repeated a small constant number of times. */
function foldRepeat(node: AstNode, depth: number): string | undefined {
  const [text, count] =
    isNode(node["left"]) && node["left"].type === "IntegerLiteral"
      ? [node["right"], node["left"]]
      : [node["left"], node["right"]];
  const times = isNode(count) && count.type === "IntegerLiteral" ? Number(count["value"]) : NaN;
  const value = isNode(text) ? foldString(text, depth + 1) : undefined;
  if (value === undefined || !Number.isInteger(times) || times < 0 || times * value.length > 256) return undefined;
  return value.repeat(times);
}

/** `'__CLASS__'|lower`, `['__cl','ass__']|join`, `'__ssalc__'|reverse`: applies the filter to the constant. */
function foldFilter(node: AstNode, depth: number): string | undefined {
  const filter = node["filter"];
  const name =
    isNode(filter) && filter.type === "CallExpression" ? identifierName(filter["callee"]) : identifierName(filter);
  if (name === undefined || !STRING_FILTERS.has(name) || !isNode(node["operand"])) return undefined;
  const value = foldString(node["operand"], depth + 1);
  if (value === undefined) return undefined;
  switch (name) {
    case "lower":
      return value.toLowerCase();
    case "upper":
      return value.toUpperCase();
    case "reverse":
      return [...value].reverse().join("");
    case "trim":
      return value.trim();
    default:
      // join/replace/title…: the disguise is in the operand; keep it so its dunder pieces can still match.
      return value;
  }
}

/** Renders an expression back to template syntax, bounded in depth and length. */
export function printExpression(node: unknown, depth: number): string {
  if (!isNode(node)) return "";
  if (depth > 24) return "…";
  const p = (n: unknown): string => printExpression(n, depth + 1);
  const list = (items: unknown): string => (Array.isArray(items) ? items.map(p).join(", ") : "");
  const v = node["value"];
  switch (node.type) {
    case "Identifier":
      return String(v);
    case "StringLiteral":
      return JSON.stringify(v);
    case "IntegerLiteral":
    case "FloatLiteral":
      return String(v);
    case "ArrayLiteral":
      return `[${list(v)}]`;
    case "TupleLiteral":
      return `(${list(v)})`;
    case "ObjectLiteral":
      return "{…}";
    case "MemberExpression":
      return node["computed"]
        ? `${p(node["object"])}[${p(node["property"])}]`
        : `${p(node["object"])}.${p(node["property"])}`;
    case "CallExpression":
      return `${p(node["callee"])}(${list(node["args"])})`;
    case "FilterExpression":
      return `${p(node["operand"])}|${p(node["filter"])}`;
    case "BinaryExpression":
      return `${p(node["left"])} ${(node["operator"] as { value?: string })?.value ?? "?"} ${p(node["right"])}`;
    case "UnaryExpression":
      return `${(node["operator"] as { value?: string })?.value ?? "?"} ${p(node["argument"])}`;
    case "TestExpression":
      return `${p(node["operand"])} is ${node["negate"] ? "not " : ""}${p(node["test"])}`;
    case "Ternary":
      return `${p(node["trueExpr"])} if ${p(node["condition"])} else ${p(node["falseExpr"])}`;
    case "KeywordArgumentExpression":
      return `${p(node["key"])}=${p(node["value"])}`;
    case "SpreadExpression":
      return `*${p(node["argument"])}`;
    case "KeywordSpreadExpression":
      return `**${p(node["argument"])}`;
    case "SliceExpression":
      return `${p(node["start"])}:${p(node["stop"])}`;
    case "SelectExpression":
      return `${p(node["lhs"])} if ${p(node["test"])}`;
    default:
      return `${node.type}(…)`;
  }
}

// ---- fallbacks for templates the parser rejects ----

interface Token {
  value: string;
  type: string;
}

/**
 * The library's .d.ts files import their siblings without extensions, which NodeNext resolution cannot follow, so
 * its types arrive unresolved; these are the two entry points used, typed by hand (checked against dist 0.5.11).
 */
const { tokenize, parse } = jinja as unknown as {
  tokenize: (source: string) => Token[];
  parse: (tokens: Token[]) => unknown;
};

/**
 * Token-level search: attribute names after `.`, string literals (dunders only), free names, and loader
 * statements. Less precise than the AST (no bindings, no folding beyond adjacent literals), so it can only add
 * findings to a template that is already a Warning.
 */
function scanTokens(tokens: Token[], findings: Findings): void {
  let tagStart = 0;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.type === "OpenExpression" || t.type === "OpenStatement") tagStart = i;
    if (t.type === "Text" || t.type === "Comment") continue;
    const expression = (): string => tagText(tokens, tagStart);
    const prev = tokens[i - 1];
    const next = tokens[i + 1];
    if (t.type === "StringLiteral") {
      const dunder = dunderIn(t.value);
      if (dunder) findings.add("dunder", dunder, expression());
      continue;
    }
    if (t.type !== "Identifier") continue;
    if (prev?.type === "Dot") {
      const dunder = dunderIn(t.value);
      if (dunder) findings.add("dunder", dunder, expression());
      else if (DANGEROUS_ATTRIBUTES.has(t.value)) findings.add("dangerous_name", t.value, expression());
      continue;
    }
    if (prev?.type === "OpenStatement" && LOADER_STATEMENTS.has(t.value))
      findings.add("dangerous_name", `{% ${t.value} %}`, expression());
    const dunder = dunderIn(t.value);
    if (dunder) findings.add("dunder", dunder, expression());
    else if (DANGEROUS_NAMES.has(t.value)) findings.add("dangerous_name", t.value, expression());
    else if (GADGETS.has(t.value) && next?.type === "Dot") findings.add("gadget", t.value, expression());
    else if (SSTI_GLOBALS.has(t.value) && next?.type === "Dot") findings.add("ssti_global", t.value, expression());
  }
}

/** The text of the tag that starts at `start` (bounded). */
function tagText(tokens: Token[], start: number): string {
  const parts: string[] = [];
  let length = 0;
  for (let i = start; i < tokens.length && length < MAX_EXPRESSION_CHARS; i++) {
    const t = tokens[i]!;
    const text = t.type === "StringLiteral" ? JSON.stringify(t.value) : t.value;
    const glued = GLUE_BEFORE.has(t.type) || GLUE_AFTER.has(tokens[i - 1]?.type ?? "");
    parts.push(parts.length > 0 && !glued ? ` ${text}` : text);
    length += text.length + 1;
    if (i > start && (t.type === "CloseExpression" || t.type === "CloseStatement")) break;
  }
  return parts.join("");
}

/** Tokens rendered without a space before / after them, so `x ( ) . y` reads `x().y`. */
const GLUE_BEFORE = new Set(["Dot", "OpenParen", "CloseParen", "OpenSquareBracket", "CloseSquareBracket", "Comma"]);
const GLUE_AFTER = new Set(["Dot", "OpenParen", "OpenSquareBracket"]);

/** Last resort when even the lexer fails: dunder names anywhere inside `{{ }}` / `{% %}` tags. */
function scanRawText(text: string, findings: Findings): void {
  const tags = /\{[{%][\s\S]{0,4096}?[}%]\}/g;
  let count = 0;
  for (const match of text.matchAll(tags)) {
    if (++count > 100_000) break;
    for (const dunder of match[0].matchAll(new RegExp(DUNDER.source, "g"))) findings.add("dunder", dunder[0], match[0]);
  }
}
