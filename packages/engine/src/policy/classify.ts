import {
  matchKey,
  prebuiltIndex,
  type IndicatorRule,
  type MatchKind,
  type Rule,
  type RuleIndex,
  type RulesPack,
  type Severity,
} from "./rules.js";

/** Why an import gets its severity. */
export interface Verdict {
  severity: Severity;
  /** The deciding rule; undefined when no rule matched (an unlisted name is Warning). */
  rule?: Rule;
  /** The dotted path the deciding rule matched (a normalised spelling or a dotted tail). */
  matchedPath: string;
  reason: string;
  references: string[];
  /** The canonical spelling, when it differs from the file's. */
  normalized?: string;
}

/** A candidate reading of one import, and the most specific rule for it. */
export interface CandidateMatch {
  path: string;
  how: "as written" | "normalized" | "dotted tail";
  rule?: Rule;
  /** All rules that matched, most specific first (for `rules explain`). */
  matches: Rule[];
}

const UNLISTED_REASON = "Not on the allow-list: the loader would import code nobody has vetted.";

/**
 * Matches dotted paths against a pack, with indexes built once: the compiled pack's prebuilt index when the pack
 * came from it (nothing to build at start-up), otherwise maps built from the rule list.
 */
export class Classifier {
  private readonly index: RuleIndex;
  private readonly cache = new Map<string, Verdict>();

  constructor(readonly pack: RulesPack) {
    this.index = prebuiltIndex(pack) ?? new MapIndex(pack.rules);
  }

  get version(): string {
    return this.pack.version;
  }

  indicator(id: string): IndicatorRule {
    return (
      this.pack.indicators.get(id) ?? {
        id,
        severity: 2,
        reason: "Unrecognised finding; treated as a warning.",
        references: [],
      }
    );
  }

  /**
   * The verdict for a `getattr` whose every use fetched a function by a constant name: from an instance (a bound
   * method) or from a global (a class's own function, as protocols 2–3 spell `interp1d._call_linear_np` or a
   * keyword-construction `cls.__new__`). Pass when each (class, method) pair is allowed. An unlisted pair is Warning
   * on an instance; on a global it keeps getattr's own verdict (undefined), as does a class that is not allowed.
   */
  boundMethods(pairs: ReadonlyArray<{ cls: string; method: string; onClass?: boolean }>): Verdict | undefined {
    let worst: Verdict | undefined;
    for (const { cls, method, onClass } of pairs) {
      const dot = cls.lastIndexOf(".");
      if (dot < 0 || this.classify(cls.slice(0, dot), cls.slice(dot + 1)).severity !== 1) return undefined;
      const rule = this.boundMethodRule(cls, method);
      if (!rule && onClass) return undefined;
      const path = `${cls}.${method}`;
      const verdict: Verdict = rule
        ? { severity: 1, matchedPath: path, reason: rule.reason, references: [] }
        : {
            severity: 2,
            matchedPath: path,
            reason: `getattr fetches the bound method ${method} of an allowed ${cls} instance; that (class, method) pair is not on the allow list.`,
            references: [],
          };
      if (!worst || verdict.severity > worst.severity) worst = verdict;
    }
    return worst;
  }

  /**
   * The verdict for `partial(cls.__new__, cls, …)` used only as protocol 2–3 keyword construction: Pass when every
   * class is allowed and its `__new__` is an allowed (class, method) pair, as NEWOBJ_EX of the class would be;
   * otherwise undefined, and partial keeps its own verdict.
   */
  constructions(classes: readonly string[]): Verdict | undefined {
    for (const cls of classes) {
      const dot = cls.lastIndexOf(".");
      if (dot < 0 || this.classify(cls.slice(0, dot), cls.slice(dot + 1)).severity !== 1) return undefined;
      if (!this.boundMethodRule(cls, "__new__")) return undefined;
    }
    return {
      severity: 1,
      matchedPath: "functools.partial",
      reason: `functools.partial only constructs ${classes.join(", ")} the way protocols 2-3 spell keyword construction (partial(cls.__new__, cls, ...)); each class and its __new__ are allowed.`,
      references: [],
    };
  }

  private boundMethodRule(cls: string, method: string) {
    return (
      this.pack.boundMethods.get(`${this.normalize(cls)}\0${method}`) ?? this.pack.boundMethods.get(`${cls}\0${method}`)
    );
  }

  /** The verdict for an import of `name` from `module` (name may be dotted). */
  classify(module: string, name: string): Verdict {
    const key = `${module}\0${name}`;
    let verdict = this.cache.get(key);
    if (!verdict) {
      verdict = this.decide(this.candidates(module, name));
      if (verdict.severity === 2 && !verdict.rule) verdict = this.listedMethod(module, name) ?? verdict;
      if (this.cache.size < 100_000) this.cache.set(key, verdict);
    }
    return verdict;
  }

  /**
   * `module.Class.method` named directly (a protocol 4 STACK_GLOBAL of a qualified name, or what getattr on the
   * class resolves to): Pass when the class is allowed and the (class, method) pair is on the allow list.
   */
  private listedMethod(module: string, name: string): Verdict | undefined {
    const path = `${module}.${name}`;
    const dot = path.lastIndexOf(".");
    const cls = path.slice(0, dot);
    const method = path.slice(dot + 1);
    const rule = this.boundMethodRule(cls, method);
    const clsDot = cls.lastIndexOf(".");
    if (!rule || clsDot < 0 || this.classify(cls.slice(0, clsDot), cls.slice(clsDot + 1)).severity !== 1)
      return undefined;
    return { severity: 1, matchedPath: path, reason: rule.reason, references: [] };
  }

  /**
   * Every reading of an import that a loader could end up with: as written, normalised (Python 2 names,
   * platform and private twins), and every dotted tail (protocol 4 resolves `("pathlib", "os.system")` through
   * attributes, so any module that imported `os` re-exports it).
   */
  candidates(module: string, name: string): CandidateMatch[] {
    const written = name ? `${module}.${name}` : module;
    const out: CandidateMatch[] = [];
    const seen = new Set<string>();
    const addCandidate = (path: string, how: CandidateMatch["how"]): void => {
      if (seen.has(path)) return;
      seen.add(path);
      const matches = this.matches(path);
      out.push({ path, how, matches, ...(matches[0] ? { rule: matches[0] } : {}) });
    };
    addCandidate(written, "as written");
    addCandidate(this.normalize(written), "normalized");
    // find_class imports the module part as a module and walks the name part attribute by attribute, so only
    // tails that start inside the name can reach another module (`numpy.random._pickle` is numpy's own module).
    const nameParts = name.split(".");
    for (let i = 0; i < nameParts.length - 1; i++) {
      const tail = nameParts.slice(i).join(".");
      addCandidate(tail, "dotted tail");
      addCandidate(this.normalize(tail), "dotted tail");
    }
    return out;
  }

  /** Python 2 and private spellings → canonical (`__builtin__.eval` → `builtins.eval`, `posix.system` → `os.system`). */
  normalize(path: string): string {
    const named = this.pack.aliases.names[path];
    if (named) return named;
    const parts = path.split(".");
    for (let i = parts.length; i > 0; i--) {
      const alias = this.pack.aliases.modules[parts.slice(0, i).join(".")];
      if (alias) return [alias, ...parts.slice(i)].join(".");
    }
    return path;
  }

  /** Rules matching one dotted path, most specific first; deny before allow at equal specificity. */
  matches(path: string): Rule[] {
    const parts = path.split(".");
    const found: Array<{ rule: Rule; specificity: number }> = [];
    const index = this.index;
    for (const rule of index.rulesFor("exact", path) ?? []) found.push({ rule, specificity: 2 * parts.length + 1 });
    for (let i = 1; i <= parts.length; i++)
      for (const rule of index.rulesFor("subtree", parts.slice(0, i).join(".")) ?? [])
        found.push({ rule, specificity: 2 * i });
    for (const part of new Set(parts))
      for (const rule of index.rulesFor("component", part) ?? []) found.push({ rule, specificity: 2 * parts.length });
    found.sort((a, b) => b.specificity - a.specificity || b.rule.severity - a.rule.severity);
    return found.map((f) => f.rule);
  }

  private decide(candidates: CandidateMatch[]): Verdict {
    const written = candidates[0]!;
    const normalized = candidates.find((c) => c.how === "normalized") ?? written;
    const normalizedPath = normalized.path !== written.path ? { normalized: normalized.path } : {};
    // A deny on any reading wins: the loader may take any of them.
    const denied = candidates.find((c) => c.rule?.severity === 3);
    const chosen = denied ?? (normalized.rule ? normalized : written.rule ? written : undefined);
    if (!chosen?.rule)
      return { severity: 2, matchedPath: normalized.path, reason: UNLISTED_REASON, references: [], ...normalizedPath };
    const { rule } = chosen;
    return {
      severity: rule.severity,
      rule,
      matchedPath: chosen.path,
      reason: rule.reason,
      references: rule.references,
      ...normalizedPath,
    };
  }
}

/** The index of a pack given as a rule list (JSON sources, user rules, a pack built in code). */
class MapIndex implements RuleIndex {
  private readonly maps: Record<MatchKind, Map<string, Rule[]>> = {
    exact: new Map(),
    subtree: new Map(),
    component: new Map(),
  };

  constructor(rules: readonly Rule[]) {
    for (const rule of rules) {
      const [kind, key] = matchKey(rule.match);
      const list = this.maps[kind].get(key);
      if (list) list.push(rule);
      else this.maps[kind].set(key, [rule]);
    }
  }

  rulesFor(kind: MatchKind, key: string): readonly Rule[] | undefined {
    return this.maps[kind].get(key);
  }
}
