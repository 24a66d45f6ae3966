import { findRuleDoc, loadClassifier, renderRuleDoc, SEVERITY_LABELS, type Classifier } from "@modelvet/engine";

export async function listRules(options: { rules: string[]; format: "text" | "json" }): Promise<void> {
  const classifier = await loadClassifier({ rulesFiles: options.rules });
  const { pack } = classifier;
  if (options.format === "json") {
    const out = {
      name: pack.name,
      version: pack.version,
      rules: pack.rules,
      indicators: [...pack.indicators.values()],
      aliases: pack.aliases,
    };
    process.stdout.write(JSON.stringify(out, null, 2) + "\n");
    return;
  }
  const lines = [`${pack.name} ${pack.version}: ${pack.rules.length} rules, ${pack.indicators.size} indicators`, ""];
  for (const rule of [...pack.rules].sort((a, b) => b.severity - a.severity || a.match.localeCompare(b.match)))
    lines.push(`${SEVERITY_LABELS[rule.severity].padEnd(7)} ${rule.match.padEnd(48)} ${rule.id}  ${rule.reason}`);
  lines.push("", "Indicators:");
  for (const ind of pack.indicators.values())
    lines.push(`${SEVERITY_LABELS[ind.severity].padEnd(7)} ${ind.id.padEnd(48)} ${ind.reason}`);
  process.stdout.write(lines.join("\n") + "\n");
}

export async function explainRule(global: string, options: { rules: string[] }): Promise<void> {
  const classifier = await loadClassifier({ rulesFiles: options.rules });
  // A rule id prints the rule's page (the same text as docs/rules/<id>.md); anything else is an import to judge.
  const doc = findRuleDoc(classifier.pack, global);
  if (doc) {
    process.stdout.write(renderRuleDoc(doc, classifier.pack.version));
    return;
  }
  const { module, name } = splitGlobal(global);
  process.stdout.write(explain(classifier, module, name));
}

function splitGlobal(global: string): { module: string; name: string } {
  const colon = global.indexOf(":");
  if (colon >= 0) return { module: global.slice(0, colon), name: global.slice(colon + 1) };
  const dot = global.lastIndexOf(".");
  return dot > 0 ? { module: global.slice(0, dot), name: global.slice(dot + 1) } : { module: global, name: "" };
}

function explain(classifier: Classifier, module: string, name: string): string {
  const verdict = classifier.classify(module, name);
  const lines = [`${module}${name ? "." + name : ""}: ${SEVERITY_LABELS[verdict.severity]} (${verdict.severity})`];
  lines.push(
    `  decided by: ${verdict.rule ? `${verdict.rule.id} [${verdict.rule.match}] from ${verdict.rule.source ?? "pack"}` : "no rule (unlisted names are Warning)"}`,
  );
  lines.push(`  reason: ${verdict.reason}`);
  for (const ref of verdict.references) lines.push(`  reference: ${ref}`);
  lines.push("  readings considered (a deny on any reading wins; otherwise the normalized spelling's rule):");
  for (const candidate of classifier.candidates(module, name)) {
    const rules = candidate.matches.map((r) => `${r.id} (${SEVERITY_LABELS[r.severity]}, ${r.match})`).join(", ");
    lines.push(`    ${candidate.path.padEnd(50)} ${candidate.how.padEnd(12)} ${rules || "no rule"}`);
  }
  lines.push(`  rules version: ${classifier.version}`);
  return lines.join("\n") + "\n";
}
