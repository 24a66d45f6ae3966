import type { FileSecurityReport, IndicatorFinding, Location, Severity, UnsafeDependency } from "../../api/types";

/** One import under one rule, with every rendering of its call and every place it occurs. */
export interface ImportGroup {
  kind: "import";
  key: string;
  rule: string;
  global: string;
  severity: Severity;
  reason: string;
  normalized?: string;
  calls: string[];
  via: string[];
  locations: Location[];
}

/** One template (a GGUF key or a JSON field) with what was found in it, by expression. */
export interface TemplateGroup {
  kind: "template";
  key: string;
  template: string;
  severity: Severity;
  findings: Array<{ rule: string; severity: Severity; what: string; expression?: string }>;
  locations: Location[];
}

/** Any other indicator: one per rule, its messages listed. */
export interface IndicatorGroup {
  kind: "indicator";
  key: string;
  rule: string;
  severity: Severity;
  reason: string;
  messages: string[];
  locations: Location[];
}

export type FindingGroup = ImportGroup | TemplateGroup | IndicatorGroup;

/** At most this many messages of one rule are listed; the count says how many there were. */
export const MAX_MESSAGES = 20;

// Template indicators read `<template>: <what> in "<expression>"` (engine formats/jinja.ts).
const TEMPLATE_MESSAGE = /^([^:]+): (.+?)(?: in ("(?:[^"\\]|\\.)*"))?$/;

function isTemplateRule(id: string): boolean {
  return /(^|\.)(chat_)?template\./.test(id);
}

/** Findings of one file folded for reading: one entry per rule and import, per template, per indicator rule. */
export function groupFindings(file: FileSecurityReport): FindingGroup[] {
  const groups = new Map<string, FindingGroup>();
  for (const dep of file.unsafe_dependencies) addImport(groups, dep);
  for (const ind of file.indicators) {
    const match = isTemplateRule(ind.id) ? TEMPLATE_MESSAGE.exec(ind.message) : null;
    if (match) addTemplate(groups, ind, match[1]!, match[2]!, match[3]);
    else addIndicator(groups, ind);
  }
  return [...groups.values()].sort((a, b) => b.severity - a.severity);
}

function addImport(groups: Map<string, FindingGroup>, dep: UnsafeDependency): void {
  const global = `${dep.module}.${dep.name}`;
  const key = `import:${dep.rule}:${global}`;
  const group = (groups.get(key) as ImportGroup | undefined) ?? {
    kind: "import",
    key,
    rule: dep.rule,
    global,
    severity: dep.severity,
    reason: dep.reason,
    ...(dep.normalized && dep.normalized !== global ? { normalized: dep.normalized } : {}),
    calls: [],
    via: [],
    locations: [],
  };
  if (dep.call && !group.calls.includes(dep.call)) group.calls.push(dep.call);
  if (dep.via && !group.via.includes(dep.via)) group.via.push(dep.via);
  group.locations.push(...dep.locations);
  group.severity = Math.max(group.severity, dep.severity) as Severity;
  groups.set(key, group);
}

function addTemplate(
  groups: Map<string, FindingGroup>,
  ind: IndicatorFinding,
  template: string,
  what: string,
  quoted: string | undefined,
): void {
  const key = `template:${template}`;
  const group = (groups.get(key) as TemplateGroup | undefined) ?? {
    kind: "template",
    key,
    template,
    severity: ind.severity,
    findings: [],
    locations: [],
  };
  let expression: string | undefined;
  try {
    expression = quoted ? (JSON.parse(quoted) as string) : undefined;
  } catch {
    expression = quoted;
  }
  group.findings.push({ rule: ind.id, severity: ind.severity, what, ...(expression ? { expression } : {}) });
  for (const l of ind.locations) if (!group.locations.some((g) => sameLocation(g, l))) group.locations.push(l);
  group.severity = Math.max(group.severity, ind.severity) as Severity;
  groups.set(key, group);
}

function addIndicator(groups: Map<string, FindingGroup>, ind: IndicatorFinding): void {
  const key = `indicator:${ind.id}`;
  const group = (groups.get(key) as IndicatorGroup | undefined) ?? {
    kind: "indicator",
    key,
    rule: ind.id,
    severity: ind.severity,
    reason: ind.reason,
    messages: [],
    locations: [],
  };
  if (!group.messages.includes(ind.message)) group.messages.push(ind.message);
  group.locations.push(...ind.locations);
  group.severity = Math.max(group.severity, ind.severity) as Severity;
  groups.set(key, group);
}

function sameLocation(a: Location, b: Location): boolean {
  return a.member === b.member && a.offset === b.offset;
}

/** `in model/data.pkl at byte 23`; empty for a location that names neither. */
export function describeLocation(l: Location): string {
  return [l.member && `in ${l.member}`, l.offset !== undefined && `at byte ${l.offset}`].filter(Boolean).join(" ");
}

/** Expressions of a template with what each one reaches, in first-seen order. */
export function byExpression(group: TemplateGroup): Array<{ expression?: string; items: TemplateGroup["findings"] }> {
  const out: Array<{ expression?: string; items: TemplateGroup["findings"] }> = [];
  for (const f of group.findings) {
    const entry = out.find((e) => e.expression === f.expression);
    if (entry) entry.items.push(f);
    else out.push({ expression: f.expression, items: [f] });
  }
  return out;
}
