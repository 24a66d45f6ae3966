import type { ScanReport } from "@modelvet/engine";
import type { WebhookEvent, WebhookEventName, WebhookTopFinding } from "@modelvet/schema";
import type { Kysely } from "kysely";
import type { Database } from "../db/schema.js";
import { severityOf } from "./common.js";
import { queueEvent } from "./webhooks.js";

/** Findings an event carries at most; the link leads to the rest. */
const TOP_FINDINGS = 5;
const ALERT = 3;

/** The most severe findings of a report, at most TOP_FINDINGS, most severe first. */
export function topFindings(report: ScanReport | undefined): WebhookTopFinding[] {
  const all: WebhookTopFinding[] = [];
  for (const file of report?.file_security_reports ?? []) {
    for (const d of file.unsafe_dependencies)
      all.push({
        path: file.path,
        severity: d.severity,
        rule: d.rule,
        what: `${d.module}.${d.name}`,
        reason: d.reason,
      });
    for (const i of file.indicators)
      all.push({ path: file.path, severity: i.severity, rule: i.id, what: i.message, reason: i.reason });
  }
  return all.sort((a, b) => b.severity - a.severity).slice(0, TOP_FINDINGS);
}

/** Which event a new result makes, if any: a new Alert, another severity, or (followed models) a failed scan. */
export function eventFor(change: {
  failed: boolean;
  followed: boolean;
  oldSeverity: number | null;
  newSeverity: number | null;
  sameCommit: boolean;
}): WebhookEventName | undefined {
  if (change.failed) return change.followed ? "scan_failed" : undefined;
  if (change.newSeverity === ALERT && (change.oldSeverity !== ALERT || !change.sameCommit)) return "alert";
  if (change.oldSeverity !== null && change.oldSeverity !== change.newSeverity) return "severity_changed";
  return undefined;
}

type ScanRow = Pick<
  Database["file_scans"],
  "id" | "model_id" | "workspace_id" | "status" | "severity" | "result" | "error" | "reason" | "finished_at"
> & { commit_sha: string | null; revision: string | null };

/** The result the model had before `scan`: its newest other succeeded scan finished no later. */
async function previousResult(db: Kysely<Database>, scan: ScanRow) {
  return db
    .selectFrom("file_scans")
    .select(["severity", "commit_sha"])
    .where("model_id", "=", scan.model_id)
    .where("status", "=", "succeeded")
    .where("id", "!=", scan.id)
    .where("finished_at", "<=", scan.finished_at ?? new Date().toISOString())
    .orderBy("finished_at", "desc")
    .executeTakeFirst();
}

/**
 * Queues the webhook event a finished scan makes (nothing when it makes none or the workspace has no webhooks).
 * `previous` is given by re-judging (the result it replaces); a scan looks up the model's result before it.
 */
export async function noticeResult(
  db: Kysely<Database>,
  fileScanId: string,
  publicUrl: string | undefined,
  previous?: { severity: number | null; commit_sha: string | null },
): Promise<WebhookEventName | undefined> {
  const scan = await db.selectFrom("file_scans").selectAll().where("id", "=", fileScanId).executeTakeFirst();
  if (!scan || (scan.status !== "succeeded" && scan.status !== "failed")) return undefined;
  const model = await db
    .selectFrom("models as m")
    .innerJoin("workspaces as w", "w.id", "m.workspace_id")
    .select(["m.id", "m.name", "m.model_uri", "m.revision", "m.follow", "w.name as workspace_name"])
    .where("m.id", "=", scan.model_id)
    .executeTakeFirst();
  if (!model) return undefined;
  const before = previous ?? (await previousResult(db, scan));
  const oldSeverity = before?.severity ?? null;
  const newSeverity = scan.status === "succeeded" ? scan.severity : null;
  const event = eventFor({
    failed: scan.status === "failed",
    followed: Number(model.follow) === 1,
    oldSeverity,
    newSeverity,
    sameCommit: before?.commit_sha != null && before.commit_sha === scan.commit_sha,
  });
  if (!event) return undefined;
  const report = scan.result ? (JSON.parse(scan.result) as ScanReport) : undefined;
  const link = `${(publicUrl ?? "").replace(/\/+$/, "")}/models/${model.id}`;
  const payload: WebhookEvent = {
    event,
    occurred_at: scan.finished_at,
    workspace: { id: scan.workspace_id, name: model.workspace_name },
    model: { id: model.id, name: model.name, repo: model.model_uri },
    revision: model.revision,
    commit: scan.commit_sha ?? scan.revision,
    file_scan_id: scan.id,
    reason: scan.reason,
    old_severity: severityOf(oldSeverity),
    new_severity: severityOf(newSeverity),
    ...(event === "scan_failed" ? { error: scan.error } : {}),
    top_findings: topFindings(report),
    link,
  };
  await queueEvent(db, scan.workspace_id, event, `${scan.id}:${event}`, payload);
  return event;
}
