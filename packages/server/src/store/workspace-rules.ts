import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Classifier, RulesError, withUserRules } from "@modelvet/engine";
import type { Kysely } from "kysely";
import type { WorkspaceRulesVersion } from "@modelvet/schema";
import type { Database } from "../db/schema.js";
import { InvalidRequestError, now } from "./common.js";

/**
 * Workspace custom rules: a rules file in the shape of the CLI's `--rules FILE` (validated by the same schema,
 * rules-file.schema.json), stored as numbered versions. Every change is a new version (who and when); clearing
 * is a version without rules. A scan of the workspace is judged by the built-in pack plus its newest version;
 * the report's rules_version names both (`<pack version>+workspace-rules-v<n>.json`).
 */
/** A stored version (the API's WorkspaceRulesVersion): a stored one always says who made it and when. */
export type RulesVersion = WorkspaceRulesVersion & { created_at: string; created_by: string };

export async function latestRules(db: Kysely<Database>, workspaceId: string): Promise<RulesVersion | undefined> {
  const row = await db
    .selectFrom("workspace_rules")
    .selectAll()
    .where("workspace_id", "=", workspaceId)
    .orderBy("version", "desc")
    .executeTakeFirst();
  return row ? toVersion(row) : undefined;
}

export async function listRuleVersions(db: Kysely<Database>, workspaceId: string): Promise<RulesVersion[]> {
  const rows = await db
    .selectFrom("workspace_rules")
    .selectAll()
    .where("workspace_id", "=", workspaceId)
    .orderBy("version", "desc")
    .limit(1000)
    .execute();
  return rows.map(toVersion);
}

/** Stores a new version after checking it builds (schema and rule checks); a bad file is a 400 with the reason. */
export async function saveRules(
  db: Kysely<Database>,
  base: Classifier,
  workspaceId: string,
  rules: Record<string, unknown> | null,
  keyId: string,
): Promise<RulesVersion> {
  const previous = await latestRules(db, workspaceId);
  const version = (previous?.version ?? 0) + 1;
  if (rules !== null) await buildClassifier(base, rules, version);
  const row = {
    workspace_id: workspaceId,
    version,
    rules: rules === null ? null : JSON.stringify(rules),
    created_at: now(),
    created_by: keyId,
  };
  // Two writers at once: the primary key lets one have the number, the other gets an error to retry.
  await db.insertInto("workspace_rules").values(row).execute();
  return toVersion(row);
}

const cache = new Map<string, Classifier>();

/** The classifier for a workspace's scans: the pack alone, or the pack with the workspace's newest rules. */
export async function classifierFor(db: Kysely<Database>, base: Classifier, workspaceId: string): Promise<Classifier> {
  const latest = await latestRules(db, workspaceId);
  if (!latest?.rules) return base;
  const key = `${base.version}:${workspaceId}:${latest.version}`;
  let classifier = cache.get(key);
  if (!classifier) {
    classifier = await buildClassifier(base, latest.rules, latest.version);
    // Bounded: one entry per workspace's current version is what is used; old ones are dropped wholesale.
    if (cache.size > 1000) cache.clear();
    cache.set(key, classifier);
  }
  return classifier;
}

/** Through the engine's own rules-file loader, so the API accepts exactly what `--rules FILE` accepts. */
async function buildClassifier(base: Classifier, rules: object, version: number): Promise<Classifier> {
  const dir = await mkdtemp(join(tmpdir(), "modelvet-rules-"));
  const file = join(dir, `workspace-rules-v${version}.json`);
  try {
    await writeFile(file, JSON.stringify(rules));
    return new Classifier(await withUserRules(base.pack, file));
  } catch (e) {
    if (e instanceof RulesError) throw new InvalidRequestError(e.message.replaceAll(file, "the rules"));
    throw e;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function toVersion(row: Database["workspace_rules"]): RulesVersion {
  return {
    workspace_id: row.workspace_id,
    version: Number(row.version),
    rules: row.rules === null ? null : (JSON.parse(row.rules) as Record<string, unknown>),
    created_at: row.created_at,
    created_by: row.created_by,
  };
}
