import type { FileInventory } from "../inventory.js";
import type { FileSecurityReport, IndicatorFinding, Location, UnsafeDependency } from "../report/types.js";
import type { Classifier, Verdict } from "./classify.js";
import type { Severity } from "./rules.js";

const MAX_LOCATIONS = 8;

/** Applies the rules to an inventory: each import and indicator gets a severity; the file gets the highest. */
export function judge(inventory: FileInventory, classifier: Classifier): FileSecurityReport {
  const dependencies = new Map<string, UnsafeDependency>();
  let severity: Severity = 1;
  for (const imp of inventory.imports) {
    const verdict =
      nestedLoadVerdict(imp, classifier.classify(imp.module, imp.name)) ??
      boundMethodVerdict(imp, classifier) ??
      partialNewVerdict(imp, classifier) ??
      classifier.classify(imp.module, imp.name);
    if (verdict.severity === 1) continue;
    severity = Math.max(severity, verdict.severity) as Severity;
    const key = `${imp.module}\0${imp.name}`;
    let dep = dependencies.get(key);
    if (!dep) {
      dep = {
        module: imp.module,
        name: imp.name,
        severity: verdict.severity,
        rule: verdict.rule?.id ?? "unlisted",
        reason: verdict.reason,
        references: verdict.references,
        locations: [],
        ...(verdict.normalized ? { normalized: verdict.normalized } : {}),
        ...(imp.via ? { via: imp.via } : {}),
      };
      dependencies.set(key, dep);
    }
    if (!dep.call && imp.calls[0]) dep.call = imp.calls[0];
    for (const offset of imp.offsets)
      addLocation(dep.locations, { ...(imp.member ? { member: imp.member } : {}), offset });
  }
  const indicators = new Map<string, IndicatorFinding>();
  for (const ind of inventory.indicators) {
    const rule = classifier.indicator(ind.id);
    const key = `${ind.id}\0${ind.message}`;
    let finding = indicators.get(key);
    if (!finding) {
      finding = {
        id: ind.id,
        severity: rule.severity,
        message: ind.message,
        reason: rule.reason,
        references: rule.references,
        locations: [],
      };
      indicators.set(key, finding);
    }
    addLocation(finding.locations, {
      ...(ind.member ? { member: ind.member } : {}),
      ...(ind.offset !== undefined ? { offset: ind.offset } : {}),
    });
    severity = Math.max(severity, rule.severity) as Severity;
  }
  const unsafe = [...dependencies.values()].sort((a, b) => b.severity - a.severity);
  return {
    path: inventory.path,
    ...(inventory.sha256 ? { sha256: inventory.sha256 } : {}),
    size: inventory.size,
    formats: inventory.formats,
    severity,
    unsafe_dependencies: unsafe,
    indicators: [...indicators.values()].sort((a, b) => b.severity - a.severity),
    errors: inventory.errors,
  };
}

/** getattr judged by the bound methods it fetched, when every push of it was consumed by such a fetch. */
function boundMethodVerdict(imp: FileInventory["imports"][number], classifier: Classifier) {
  const use = imp.boundMethods;
  if (!use || use.pushes === 0 || use.fetches !== use.pushes || use.pairs.length === 0) return undefined;
  return classifier.boundMethods(use.pairs);
}

/** functools.partial judged by the classes it constructs, when every push of it was a keyword construction. */
function partialNewVerdict(imp: FileInventory["imports"][number], classifier: Classifier) {
  const use = imp.partialNew;
  if (!use || use.spoiled || use.pushes === 0 || use.constructions !== use.pushes || use.classes.length === 0)
    return undefined;
  return classifier.constructions(use.classes);
}

/**
 * A nested-pickle loader that only a Warning rule covers (`torch.storage._load_from_bytes`, which torch pickles
 * every CPU tensor through) is Pass when every push of it was a call with a literal byte payload: those bytes are
 * read as a nested file and judged by their own content. A payload the scan cannot read (a computed value, or the
 * loader passed on to something else) keeps the Warning. Denied loaders stay denied.
 */
function nestedLoadVerdict(imp: FileInventory["imports"][number], verdict: Verdict): Verdict | undefined {
  const use = imp.nestedLoads;
  if (verdict.severity !== 2 || !verdict.rule || !use || use.pushes === 0 || use.reads !== use.pushes) return undefined;
  return {
    severity: 1,
    matchedPath: verdict.matchedPath,
    reason: `${imp.module}.${imp.name} loads a nested pickle; every payload it is given is a literal the scan reads as a nested file and judges by its content.`,
    references: verdict.references,
  };
}

function addLocation(list: Location[], location: Location): void {
  if (list.length < MAX_LOCATIONS && !list.some((l) => l.member === location.member && l.offset === location.offset))
    list.push(location);
}
