import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { builtinRulesDir, Classifier, loadBuiltinPack, loadPackDir } from "../src/index.js";
import { compilePack, COMPILED_PACK_FILE, expandPack, prebuiltIndex, type CompiledPack } from "../src/policy/rules.js";

const readCompiled = (): CompiledPack =>
  JSON.parse(readFileSync(join(builtinRulesDir(), COMPILED_PACK_FILE), "utf8")) as CompiledPack;

/** Paths every rule bears on: its own pattern spelt as a path, one below a subtree, one holding a component. */
function pathsOf(match: string): string[] {
  if (match.startsWith("**.")) return [match.slice(3), `pkg.${match.slice(3)}`, `pkg.${match.slice(3)}.attr`];
  if (match.endsWith(".*")) return [match.slice(0, -2), `${match.slice(0, -2)}.child`];
  return [match, `${match}.attr`];
}

describe("the compiled rules pack", () => {
  it("equals its JSON sources (run `npm run rules:compile` after editing a rules file)", async () => {
    const fromSources = compilePack(await loadPackDir(builtinRulesDir()));
    const compiled = JSON.parse(readFileSync(join(builtinRulesDir(), COMPILED_PACK_FILE), "utf8")) as unknown;
    expect(compiled).toEqual(fromSources);
  });

  it("is what the engine loads", async () => {
    const pack = await loadBuiltinPack();
    const fromSources = await loadPackDir(builtinRulesDir());
    expect(pack.version).toBe(fromSources.version);
    expect(pack.rules).toEqual(fromSources.rules);
    expect([...pack.indicators.entries()]).toEqual([...fromSources.indicators.entries()]);
    expect(pack.aliases).toEqual(fromSources.aliases);
    expect([...pack.boundMethods.entries()]).toEqual([...fromSources.boundMethods.entries()]);
  });

  it("answers from its prebuilt index as a classifier built from the JSON sources does", async () => {
    const sources = await loadPackDir(builtinRulesDir());
    const compiled = expandPack(readCompiled());
    expect(prebuiltIndex(compiled)).toBeDefined(); // else the comparison below would be of two map indexes
    const fromIndex = new Classifier(compiled);
    const fromSources = new Classifier(sources);
    const paths = new Set(sources.rules.flatMap((r) => pathsOf(r.match)));
    for (const extra of ["constructor", "__proto__", "toString", "pkg.constructor", "", "a..b"]) paths.add(extra);
    expect(paths.size).toBeGreaterThan(sources.rules.length);
    for (const path of paths) expect(fromIndex.matches(path), path).toEqual(fromSources.matches(path));
    for (const rule of sources.rules.slice(0, 400)) {
      const [module, ...name] = pathsOf(rule.match)[0]!.split(".");
      expect(fromIndex.classify(module!, name.join(".")), rule.match).toEqual(
        fromSources.classify(module!, name.join(".")),
      );
    }
  });

  it("makes each rule once: the classifier's rules are the objects of the pack's rule list", () => {
    const pack = expandPack(readCompiled());
    const classifier = new Classifier(pack);
    const matched = classifier.matches("os.system");
    expect(matched.length).toBeGreaterThan(0);
    const rules = pack.rules;
    for (const rule of matched) expect(rules).toContain(rule); // toContain compares by identity
    // The rule list may now be changed by its reader, so a later classifier indexes the list itself.
    expect(prebuiltIndex(pack)).toBeUndefined();
    rules.push({ id: "test-deny-pkg", match: "pkg.fn", severity: 3, reason: "test", references: [] });
    expect(new Classifier(pack).classify("pkg", "fn").rule?.id).toBe("test-deny-pkg");
  });
});
