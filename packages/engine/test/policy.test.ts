import { describe, expect, it } from "vitest";
import { Classifier, loadBuiltinPack, type RulesPack } from "../src/index.js";

const pack = await loadBuiltinPack();
const classifier = new Classifier(pack);
const severity = (module: string, name: string): number => classifier.classify(module, name).severity;

function packWith(rules: RulesPack["rules"]): Classifier {
  return new Classifier({ ...pack, rules });
}

describe("rules pack resolution", () => {
  it("denies the classics in every spelling", () => {
    expect(severity("posix", "system")).toBe(3);
    expect(severity("nt", "system")).toBe(3);
    expect(severity("__builtin__", "eval")).toBe(3);
    expect(severity("commands", "Popen")).toBe(3);
    expect(severity("httplib", "HTTPSConnection")).toBe(3);
    expect(severity("_operator", "attrgetter")).toBe(3);
    expect(severity("_pickle", "loads")).toBe(3);
  });

  it("normalises Python 2 and private spellings", () => {
    expect(classifier.classify("__builtin__", "eval").normalized).toBe("builtins.eval");
    expect(classifier.classify("posix", "system").normalized).toBe("os.system");
    expect(classifier.classify("copy_reg", "_reconstructor").severity).toBe(1);
  });

  it("reads dotted names attribute by attribute, but only inside the name", () => {
    expect(severity("pathlib", "os.system")).toBe(3);
    expect(severity("torch", "serialization.os.system")).toBe(3);
    expect(severity("sysconfig", "prefix.os.system")).toBe(3);
    // numpy.random._pickle is numpy's own module, not the pickle module re-exported.
    expect(severity("numpy.random._pickle", "__randomstate_ctor")).toBe(1);
  });

  it("denies a submodule of a denied module", () => {
    expect(severity("asyncio.unix_events", "_UnixSubprocessTransport._start")).toBe(3);
    expect(severity("os.path", "join")).toBe(3);
  });

  it("denies dunder components anywhere", () => {
    expect(severity("numpy", "__builtins__")).toBe(3);
    expect(severity("collections", "OrderedDict.__init__.__globals__")).toBe(3);
    expect(severity("torch", "Tensor.__subclasses__")).toBe(3);
  });

  it("allows exact pairs only: numpy is not a blanket", () => {
    expect(severity("numpy.core.multiarray", "_reconstruct")).toBe(1);
    expect(severity("numpy.testing._private.utils", "runstring")).toBe(3);
    expect(severity("numpy", "some_new_function")).toBe(2);
  });

  it("gives Warning to a name on no rule", () => {
    const verdict = classifier.classify("tinynet", "TinyNet");
    expect(verdict.severity).toBe(2);
    expect(verdict.rule).toBeUndefined();
  });

  it("lets the most specific rule win, and deny win at equal specificity", () => {
    const c = packWith([
      { id: "deny-a", match: "a.*", severity: 3, reason: "", references: [] },
      { id: "allow-a-b-c", match: "a.b.c", severity: 1, reason: "", references: [] },
      { id: "warn-a-b", match: "a.b.*", severity: 2, reason: "", references: [] },
      { id: "allow-x-y", match: "x.y", severity: 1, reason: "", references: [] },
      { id: "deny-x-y", match: "x.y", severity: 3, reason: "", references: [] },
    ]);
    expect(c.classify("a.b", "c").rule?.id).toBe("allow-a-b-c");
    expect(c.classify("a.b", "d").rule?.id).toBe("warn-a-b");
    expect(c.classify("a", "z").rule?.id).toBe("deny-a");
    expect(c.classify("x", "y").rule?.id).toBe("deny-x-y");
  });

  it("every rule has an id, a reason, and allow rules are exact", () => {
    const ids = new Set<string>();
    for (const rule of pack.rules) {
      expect(ids.has(rule.id), rule.id).toBe(false);
      ids.add(rule.id);
      expect(rule.reason.length, rule.id).toBeGreaterThan(3);
      if (rule.severity === 1 && rule.match !== "__torch__.*") expect(rule.match.includes("*"), rule.id).toBe(false);
    }
  });

  it("names the severity of every indicator the engine emits", () => {
    for (const id of [
      "pickle.truncated",
      "pickle.unknown_opcode",
      "pickle.stack_underflow",
      "pickle.invalid_argument",
      "pickle.memo_missing",
      "pickle.trailing_data",
      "pickle.frame_violation",
      "pickle.limit",
      "pickle.ext_opcode",
      "pickle.unresolved_global",
      "pickle.global_mutation",
      "pickle.computed_call",
      "scan.error",
      "scan.limit",
      "scan.unsupported",
    ])
      expect(pack.indicators.has(id), id).toBe(true);
  });
});
