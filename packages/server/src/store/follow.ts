import type { Kysely } from "kysely";
import type { Database } from "../db/schema.js";
import type { JobQueue } from "../jobs/queue.js";
import { now } from "./common.js";
import { createFileScan } from "./file-scans.js";
import { saveFailure } from "./scan-jobs.js";

/** What the poller and the Hub webhook need of a followed model. */
export interface FollowedModel {
  id: string;
  project_id: string;
  workspace_id: string;
  model_uri: string;
  revision: string;
  integration_id: string | null;
  last_seen_sha: string | null;
}

const FOLLOWED_COLUMNS = [
  "m.id",
  "m.project_id",
  "m.workspace_id",
  "m.model_uri",
  "m.revision",
  "m.integration_id",
  "m.last_seen_sha",
] as const;

/** Whom the service acts as when it starts a scan itself: the model's own workspace. */
const systemScope = (workspaceId: string) => ({ admin: false, workspaceId, keyId: "follow" });

/**
 * Followed models due for a poll, each claimed for this process by moving its next poll `intervalMs` (jittered
 * by ±10 %, so models registered together spread out) ahead: several API processes never poll one model twice.
 */
export async function claimDueModels(
  db: Kysely<Database>,
  defaultIntervalSeconds: number,
  limit: number,
): Promise<FollowedModel[]> {
  const at = now();
  const due = await db
    .selectFrom("models as m")
    .innerJoin("workspaces as w", "w.id", "m.workspace_id")
    .select([...FOLLOWED_COLUMNS, "m.next_poll_at", "w.poll_interval_seconds"])
    .where("m.follow", "=", 1)
    .where("m.deleted_at", "is", null)
    .where((eb) => eb.or([eb("m.next_poll_at", "is", null), eb("m.next_poll_at", "<=", at)]))
    .orderBy("m.next_poll_at")
    .limit(limit)
    .execute();
  const claimed: FollowedModel[] = [];
  for (const row of due) {
    const seconds = row.poll_interval_seconds ?? defaultIntervalSeconds;
    const next = new Date(Date.now() + seconds * 1000 * (0.9 + Math.random() * 0.2)).toISOString();
    const result = await db
      .updateTable("models")
      .set({ next_poll_at: next })
      .where("id", "=", row.id)
      .where((eb) =>
        row.next_poll_at === null ? eb("next_poll_at", "is", null) : eb("next_poll_at", "=", row.next_poll_at),
      )
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) === 1) {
      const { next_poll_at: _n, poll_interval_seconds: _p, ...model } = row;
      claimed.push(model);
    }
  }
  return claimed;
}

/** The followed models of a workspace registered for one Hub repo (a webhook names the repo). */
export async function followedModelsOf(
  db: Kysely<Database>,
  workspaceId: string,
  modelUri: string,
): Promise<FollowedModel[]> {
  return db
    .selectFrom("models as m")
    .select([...FOLLOWED_COLUMNS])
    .where("m.workspace_id", "=", workspaceId)
    .where("m.model_uri", "=", modelUri)
    .where("m.follow", "=", 1)
    .where("m.deleted_at", "is", null)
    .execute();
}

/**
 * The revision now points at `sha`. When that is not the commit last seen (or, before the first look, the commit
 * of the model's newest scan), a scan of exactly that commit is queued. The conditional update makes one caller
 * win when the poller and a webhook (or two processes) notice the same commit: returns the new scan's id.
 * A model never scanned and never looked at only gets its baseline from a poll (registering a model does not
 * start a scan); a webhook saying the repo changed scans it.
 */
export async function noticeCommit(
  db: Kysely<Database>,
  queue: JobQueue,
  model: FollowedModel,
  sha: string,
  reason: string,
  rulesVersion: string,
  firstLook: "baseline" | "scan",
): Promise<string | undefined> {
  const scanned = model.last_seen_sha ?? (await newestScannedCommit(db, model.id));
  const known = scanned ?? (firstLook === "baseline" ? sha : undefined);
  const claim = await db
    .updateTable("models")
    .set({ last_seen_sha: sha })
    .where("id", "=", model.id)
    .where((eb) =>
      model.last_seen_sha === null ? eb("last_seen_sha", "is", null) : eb("last_seen_sha", "=", model.last_seen_sha),
    )
    .executeTakeFirst();
  if (Number(claim.numUpdatedRows) !== 1 || known === sha) return undefined;
  const scan = await createFileScan(
    db,
    systemScope(model.workspace_id),
    { model_id: model.id, project_id: model.project_id, revision: sha, reason },
    rulesVersion,
  );
  try {
    await queue.enqueue(scan.file_scan_id);
  } catch (e) {
    await saveFailure(db, scan.file_scan_id, "the job queue could not take the scan; start it again");
    throw e;
  }
  return scan.file_scan_id;
}

async function newestScannedCommit(db: Kysely<Database>, modelId: string): Promise<string | undefined> {
  const row = await db
    .selectFrom("file_scans")
    .select(["commit_sha", "revision"])
    .where("model_id", "=", modelId)
    .where("status", "!=", "failed")
    .orderBy("created_at", "desc")
    .executeTakeFirst();
  return row?.commit_sha ?? row?.revision ?? undefined;
}
