import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { dirname, join, resolve } from "node:path";
import { describeSchemaErrors, rulesFileValidator } from "./rules-schema.js";

import type { Severity, SeverityLabel } from "@modelvet/schema";

export type { Severity };
export const SEVERITY_LABELS: Record<Severity, SeverityLabel> = { 1: "Pass", 2: "Warning", 3: "Alert" };

/** One rule of the pack: a dotted-path pattern and what it means. */
export interface Rule {
  id: string;
  /** `a.b.c` exact; `a.b.*` the module and everything under it; `**.x` any path with a component `x`. */
  match: string;
  severity: Severity;
  reason: string;
  references: string[];
  /** Where the rule came from (a pack file or a user file), for `rules explain`. */
  source?: string;
}

/** Severity and explanation of a non-import finding (malformed stream, Lambda layer, template injection…). */
export interface IndicatorRule {
  id: string;
  severity: Severity;
  reason: string;
  references: string[];
}

/** An allowed bound method: `getattr(<instance of class>, 'method')` is vetted code of that class. */
export interface BoundMethodRule {
  id: string;
  class: string;
  method: string;
  reason: string;
}

export interface Aliases {
  /** Old or private module → canonical module (`__builtin__` → `builtins`, `posix` → `os`). */
  modules: Record<string, string>;
  /** Old `module.name` → canonical `module.name` (Python 2 names, protocol < 3). */
  names: Record<string, string>;
}

export interface RulesPack {
  name: string;
  version: string;
  rules: Rule[];
  indicators: Map<string, IndicatorRule>;
  aliases: Aliases;
  /** `class\0method` → rule. */
  boundMethods: Map<string, BoundMethodRule>;
}

interface PackManifest {
  name: string;
  version: string;
  files: string[];
}

interface RulesFile {
  rules?: unknown[];
  indicators?: unknown[];
  modules?: Record<string, string>;
  names?: Record<string, string>;
  boundMethods?: unknown[];
}

export class RulesError extends Error {}

/** The folder of the built-in pack (packages/engine/rules), found relative to this module. */
export function builtinRulesDir(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "rules");
}

let builtinPack: Promise<RulesPack> | undefined;

/** The built-in pack compiled into one file (`npm run rules:compile`; a test keeps it equal to its sources). */
export const COMPILED_PACK_FILE = "pack.compiled.json";

/** The built-in pack, loaded once per process: the compiled file when present (one read, no validation). */
export function loadBuiltinPack(): Promise<RulesPack> {
  builtinPack ??= loadCompiledPack(join(builtinRulesDir(), COMPILED_PACK_FILE)).then(
    (pack) => pack ?? loadPackDir(builtinRulesDir()),
  );
  return builtinPack;
}

/**
 * A pack in the compiled file's shape: plain JSON, each string once, and the classifier's index prebuilt, so that
 * start-up costs one read and one JSON.parse (native code) and no loop over thousands of rules. Thousands of rules
 * share a few hundred reasons and reference lists, so a rule is a tuple of indexes into those tables; its match
 * pattern is the key it is filed under in `index`.
 */
export interface CompiledPack {
  format: 3;
  name: string;
  version: string;
  /** Reasons, sources and reference addresses, each once. */
  strings: string[];
  /** Each distinct reference list once, as indexes into `strings`. */
  referenceLists: number[][];
  /** `[id, severity, reason, references, source]`: strings by index, references by list index. */
  rules: Array<[string, Severity, number, number, number]>;
  /**
   * Per kind of match, the keys the classifier looks up (see `matchKey`) in code-unit order, and for each key the
   * positions of its rules in pack order. Sorted lists parse faster than an object of thousands of keys and are
   * searched by bisection, with nothing to build.
   */
  index: Record<MatchKind, { keys: string[]; rules: number[][] }>;
  indicators: IndicatorRule[];
  boundMethods: Array<[string, BoundMethodRule]>;
  aliases: Aliases;
}

/** How a pattern matches: `a.b` exactly, `a.b.*` the subtree under `a.b`, `**.x` any path with a component `x`. */
export type MatchKind = "exact" | "subtree" | "component";

/** The index bucket and key a match pattern is filed under (`os.*` → subtree `os`). */
export function matchKey(match: string): [MatchKind, string] {
  if (match.startsWith("**.")) return ["component", match.slice(3)];
  if (match.endsWith(".*")) return ["subtree", match.slice(0, -2)];
  return ["exact", match];
}

function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Position of `key` in a list sorted by compareCodeUnits, or -1. */
function bisect(keys: readonly string[], key: string): number {
  let lo = 0;
  let hi = keys.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const at = keys[mid]!;
    if (at === key) return mid;
    if (at < key) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

function matchOf(kind: MatchKind, key: string): string {
  return kind === "component" ? `**.${key}` : kind === "subtree" ? `${key}.*` : key;
}

export function compilePack(pack: RulesPack): CompiledPack {
  const strings: string[] = [];
  const stringIndex = new Map<string, number>();
  const intern = (text: string): number => {
    let i = stringIndex.get(text);
    if (i === undefined) stringIndex.set(text, (i = strings.push(text) - 1));
    return i;
  };
  const referenceLists: number[][] = [];
  const listIndex = new Map<string, number>();
  const internList = (references: string[]): number => {
    const list = references.map(intern);
    const key = list.join(",");
    let i = listIndex.get(key);
    if (i === undefined) listIndex.set(key, (i = referenceLists.push(list) - 1));
    return i;
  };
  const buckets: Record<MatchKind, Map<string, number[]>> = {
    exact: new Map(),
    subtree: new Map(),
    component: new Map(),
  };
  pack.rules.forEach((r, i) => {
    const [kind, key] = matchKey(r.match);
    const positions = buckets[kind].get(key);
    if (positions) positions.push(i);
    else buckets[kind].set(key, [i]);
  });
  const sorted = (bucket: Map<string, number[]>): { keys: string[]; rules: number[][] } => {
    const keys = [...bucket.keys()].sort(compareCodeUnits);
    return { keys, rules: keys.map((k) => bucket.get(k)!) };
  };
  const index = {
    exact: sorted(buckets.exact),
    subtree: sorted(buckets.subtree),
    component: sorted(buckets.component),
  };
  return {
    format: 3,
    name: pack.name,
    version: pack.version,
    rules: pack.rules.map((r) => [
      r.id,
      r.severity,
      intern(r.reason),
      internList(r.references),
      r.source === undefined ? -1 : intern(r.source),
    ]),
    index,
    strings,
    referenceLists,
    indicators: [...pack.indicators.values()],
    boundMethods: [...pack.boundMethods.entries()],
    aliases: pack.aliases,
  };
}

/** Rules by the key the classifier looks up, most of them never turned into objects. */
export interface RuleIndex {
  rulesFor(kind: MatchKind, key: string): readonly Rule[] | undefined;
}

/** The rules of a compiled pack, each made into a `Rule` object on first use and then always the same object. */
class CompiledRules implements RuleIndex {
  private readonly made: Rule[] = [];
  private readonly lists: string[][] = [];

  constructor(private readonly compiled: CompiledPack) {}

  rulesFor(kind: MatchKind, key: string): readonly Rule[] | undefined {
    const bucket = this.compiled.index[kind];
    const at = bisect(bucket.keys, key);
    if (at < 0) return undefined;
    const match = matchOf(kind, key);
    return bucket.rules[at]!.map((i) => this.rule(i, match));
  }

  /** Every rule in pack order (for listings and user rules files). */
  all(): Rule[] {
    const matches = new Array<string>(this.compiled.rules.length);
    for (const kind of ["exact", "subtree", "component"] as const)
      this.compiled.index[kind].keys.forEach((key, k) => {
        for (const i of this.compiled.index[kind].rules[k]!) matches[i] = matchOf(kind, key);
      });
    return matches.map((match, i) => this.rule(i, match));
  }

  private rule(i: number, match: string): Rule {
    const made = this.made[i];
    if (made) return made;
    const { strings } = this.compiled;
    const [id, severity, reason, references, source] = this.compiled.rules[i]!;
    const rule: Rule = { id, match, severity, reason: strings[reason]!, references: this.list(references) };
    if (source >= 0) rule.source = strings[source]!;
    return (this.made[i] = rule);
  }

  /** Rules that cite the same sources share one (frozen) list. */
  private list(i: number): string[] {
    return (this.lists[i] ??= Object.freeze(
      this.compiled.referenceLists[i]!.map((s) => this.compiled.strings[s]!),
    ) as string[]);
  }
}

/** Packs loaded from a compiled file whose rule list nobody has seen yet, with their prebuilt index. */
const prebuilt = new WeakMap<RulesPack, RuleIndex>();

/**
 * The prebuilt index of a pack read from the compiled file, or undefined (a pack from JSON sources or user rules,
 * or one whose rule list was read, and so may have been changed: the classifier then indexes `rules` itself).
 */
export function prebuiltIndex(pack: RulesPack): RuleIndex | undefined {
  return prebuilt.get(pack);
}

/** The pack a compiled file describes (the inverse of compilePack); its rule list is made on first read. */
export function expandPack(compiled: CompiledPack): RulesPack {
  const index = new CompiledRules(compiled);
  const pack = {
    name: compiled.name,
    version: compiled.version,
    indicators: new Map(compiled.indicators.map((i) => [i.id, i])),
    aliases: compiled.aliases,
    boundMethods: new Map(compiled.boundMethods),
  } as RulesPack;
  let rules: Rule[] | undefined;
  Object.defineProperty(pack, "rules", {
    enumerable: true,
    configurable: true,
    get(): Rule[] {
      prebuilt.delete(pack);
      return (rules ??= index.all());
    },
    set(value: Rule[]) {
      prebuilt.delete(pack);
      rules = value;
    },
  });
  prebuilt.set(pack, index);
  return pack;
}

function loadCompiledPack(path: string): Promise<RulesPack | undefined> {
  let text: string;
  try {
    text = readFileSync(path, "utf8"); // one small synchronous read at start-up beats twenty awaited ones
  } catch {
    return Promise.resolve(undefined); // a source checkout before `rules:compile`: read the JSON sources
  }
  const compiled = JSON.parse(text) as CompiledPack;
  // A file of an older shape (a checkout between `git pull` and `rules:compile`) is read from the sources.
  if (compiled.format !== 3) return Promise.resolve(undefined);
  return Promise.resolve(expandPack(compiled));
}

export async function loadPackDir(dir: string): Promise<RulesPack> {
  const manifest = (await readJson(join(dir, "manifest.json"))) as PackManifest;
  if (typeof manifest.version !== "string" || !Array.isArray(manifest.files))
    throw new RulesError(`${dir}/manifest.json needs "version" and "files"`);
  const pack: RulesPack = {
    name: manifest.name,
    version: manifest.version,
    rules: [],
    indicators: new Map(),
    aliases: { modules: {}, names: {} },
    boundMethods: new Map(),
  };
  for (const file of manifest.files) addFile(pack, (await readJson(join(dir, file))) as RulesFile, file, false);
  return pack;
}

/**
 * Adds a user rules file (`--rules FILE`) on top of a pack. A user rule replaces a pack rule with the same id or
 * the same match; new rules are added. The version names the extra file so reports show they were judged by it.
 */
export async function withUserRules(pack: RulesPack, path: string): Promise<RulesPack> {
  const extended: RulesPack = {
    ...pack,
    rules: [...pack.rules],
    indicators: new Map(pack.indicators),
    aliases: { modules: { ...pack.aliases.modules }, names: { ...pack.aliases.names } },
    boundMethods: new Map(pack.boundMethods),
    version: `${pack.version}+${path.split(/[\\/]/).pop()}`,
  };
  const data = await readJson(path);
  const validate = await rulesFileValidator(builtinRulesDir());
  if (!validate(data))
    throw new RulesError(
      `rules file ${path} does not match rules-file.schema.json:\n  ${describeSchemaErrors(validate.errors ?? []).join("\n  ")}`,
    );
  addFile(extended, data as RulesFile, path, true);
  return extended;
}

async function readJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    throw new RulesError(`cannot read rules file ${path}: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new RulesError(`rules file ${path} is not valid JSON: ${(e as Error).message}`);
  }
}

function addFile(pack: RulesPack, file: RulesFile, source: string, override: boolean): void {
  const ids = new Set(pack.rules.map((r) => r.id)); // a Set: packs hold thousands of rules
  for (const raw of file.rules ?? []) {
    const rule = { ...validateRule(raw, source), source };
    if (override) {
      const i = pack.rules.findIndex((r) => r.id === rule.id || r.match === rule.match);
      if (i >= 0) {
        pack.rules[i] = rule;
        continue;
      }
    } else if (ids.has(rule.id)) throw new RulesError(`${source}: duplicate rule id ${rule.id}`);
    ids.add(rule.id);
    pack.rules.push(rule);
  }
  for (const raw of file.indicators ?? []) {
    const rule = validateIndicator(raw, source);
    pack.indicators.set(rule.id, rule);
  }
  for (const raw of file.boundMethods ?? []) {
    const rule = validateBoundMethod(raw, source);
    pack.boundMethods.set(`${rule.class}\0${rule.method}`, rule);
  }
  Object.assign(pack.aliases.modules, file.modules ?? {});
  Object.assign(pack.aliases.names, file.names ?? {});
}

const MATCH = /^(\*\*\.[^.*]+|[^.*]+(\.[^.*]+)*(\.\*)?)$/;

function validateRule(raw: unknown, source: string): Rule {
  const r = raw as Partial<Rule>;
  const where = `${source}: rule ${JSON.stringify(r?.id ?? raw)}`;
  if (!r || typeof r.id !== "string" || !r.id) throw new RulesError(`${where} needs an "id"`);
  if (typeof r.match !== "string" || !MATCH.test(r.match))
    throw new RulesError(`${where} has an invalid "match" ${JSON.stringify(r.match)}`);
  if (r.severity !== 1 && r.severity !== 2 && r.severity !== 3)
    throw new RulesError(`${where} needs "severity" 1, 2 or 3`);
  // `__torch__.*` is the one namespace allow: TorchScript class names never reach Python's import system.
  if (r.severity === 1 && r.match.includes("*") && r.match !== "__torch__.*")
    throw new RulesError(`${where}: allow rules must be exact module.name pairs`);
  if (typeof r.reason !== "string") throw new RulesError(`${where} needs a "reason"`);
  const references = Array.isArray(r.references) ? r.references.map(String) : [];
  return { id: r.id, match: r.match, severity: r.severity, reason: r.reason, references };
}

function validateBoundMethod(raw: unknown, source: string): BoundMethodRule {
  const r = raw as Partial<BoundMethodRule>;
  const where = `${source}: bound method ${JSON.stringify(r?.id ?? raw)}`;
  if (!r || typeof r.id !== "string" || typeof r.class !== "string" || typeof r.method !== "string")
    throw new RulesError(`${where} needs "id", "class" and "method"`);
  // `__new__` of an allowed class is its constructor (what NEWOBJ calls); every other dunder reaches internals.
  if (/^__.*__$/.test(r.method) && r.method !== "__new__")
    throw new RulesError(`${where}: dunder methods other than __new__ cannot be allowed`);
  return { id: r.id, class: r.class, method: r.method, reason: String(r.reason ?? "") };
}

function validateIndicator(raw: unknown, source: string): IndicatorRule {
  const r = raw as Partial<IndicatorRule>;
  if (!r || typeof r.id !== "string") throw new RulesError(`${source}: indicator needs an "id"`);
  if (r.severity !== 1 && r.severity !== 2 && r.severity !== 3)
    throw new RulesError(`${source}: indicator ${r.id} needs "severity" 1, 2 or 3`);
  return {
    id: r.id,
    severity: r.severity,
    reason: String(r.reason ?? ""),
    references: Array.isArray(r.references) ? r.references.map(String) : [],
  };
}
