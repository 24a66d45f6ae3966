import { randomUUID } from "node:crypto";
import type { Webhook, WebhookDelivery, WebhookEvent, WebhookEventName } from "@modelvet/schema";
import { sql, type Expression, type ExpressionBuilder, type Kysely, type SqlBool } from "kysely";
import type { Database } from "../db/schema.js";
import type { SecretBox } from "../security/secret-box.js";
import { LIST_LIMIT, NotFoundError, now } from "./common.js";

/** Most webhooks one workspace may have: every event is sent to each of them. */
export const MAX_WEBHOOKS = 20;
/** Deliveries a log call returns (newest first). */
export const DELIVERY_LIST_LIMIT = 200;

const aad = (id: string) => `webhook:${id}`;

const toWebhook = (r: Database["webhooks"]): Webhook => ({
  webhook_id: r.id,
  workspace_id: r.workspace_id,
  url: r.url,
  description: r.description,
  created_at: r.created_at,
  created_by: r.created_by,
});

/** Stores a webhook; its secret only sealed. The caller has checked the workspace and the URL. */
export async function createWebhook(
  db: Kysely<Database>,
  box: SecretBox,
  input: { workspaceId: string; url: string; secret: string; description: string; keyId: string },
): Promise<Webhook> {
  const id = randomUUID();
  const row = {
    id,
    workspace_id: input.workspaceId,
    url: input.url,
    secret: box.encrypt(input.secret, aad(id)),
    description: input.description,
    created_at: now(),
    created_by: input.keyId,
  };
  await db.insertInto("webhooks").values(row).execute();
  return toWebhook(row);
}

export async function countWebhooks(db: Kysely<Database>, workspaceId: string): Promise<number> {
  const row = await db
    .selectFrom("webhooks")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("workspace_id", "=", workspaceId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function listWebhooks(db: Kysely<Database>, workspaceId: string): Promise<Webhook[]> {
  const rows = await db
    .selectFrom("webhooks")
    .selectAll()
    .where("workspace_id", "=", workspaceId)
    .orderBy("created_at")
    .limit(LIST_LIMIT)
    .execute();
  return rows.map(toWebhook);
}

/** The webhook of this workspace, or NotFoundError (also for another workspace's webhook). */
export async function getWebhook(db: Kysely<Database>, workspaceId: string, id: string): Promise<Webhook> {
  const row = await db
    .selectFrom("webhooks")
    .selectAll()
    .where("id", "=", id)
    .where("workspace_id", "=", workspaceId)
    .executeTakeFirst();
  if (!row) throw new NotFoundError(`webhook ${id} not found`);
  return toWebhook(row);
}

/** Deletes the webhook, its pending deliveries and its log. */
export async function deleteWebhook(db: Kysely<Database>, workspaceId: string, id: string): Promise<void> {
  await getWebhook(db, workspaceId, id);
  await db.transaction().execute(async (trx) => {
    const deliveries = trx.selectFrom("webhook_deliveries").select("id").where("webhook_id", "=", id);
    await trx.deleteFrom("webhook_attempts").where("delivery_id", "in", deliveries).execute();
    await trx.deleteFrom("webhook_deliveries").where("webhook_id", "=", id).execute();
    await trx.deleteFrom("webhooks").where("id", "=", id).execute();
  });
}

/** The webhook's deliveries, newest first, each with its attempts. */
export async function listDeliveries(db: Kysely<Database>, webhookId: string): Promise<WebhookDelivery[]> {
  const rows = await db
    .selectFrom("webhook_deliveries")
    .selectAll()
    .where("webhook_id", "=", webhookId)
    .orderBy("created_at", "desc")
    .limit(DELIVERY_LIST_LIMIT)
    .execute();
  if (rows.length === 0) return [];
  const attempts = await db
    .selectFrom("webhook_attempts")
    .selectAll()
    .where(
      "delivery_id",
      "in",
      rows.map((r) => r.id),
    )
    .orderBy("attempt")
    .execute();
  return rows.map((r) => ({
    delivery_id: r.id,
    webhook_id: r.webhook_id,
    event: r.event,
    state: r.state,
    attempts: Number(r.attempts),
    last_status: r.last_status === null ? null : Number(r.last_status),
    last_error: r.last_error,
    created_at: r.created_at,
    updated_at: r.updated_at,
    next_attempt_at: r.state === "pending" ? r.next_attempt_at : null,
    delivered_at: r.delivered_at,
    attempt_log: attempts
      .filter((a) => a.delivery_id === r.id)
      .map((a) => ({
        attempt: Number(a.attempt),
        started_at: a.started_at,
        finished_at: a.finished_at,
        status_code: a.status_code === null ? null : Number(a.status_code),
        error: a.error,
      })),
  }));
}

/**
 * Queues one delivery of the event to every webhook of the workspace. `eventKey` names the event (file scan and
 * kind): an event noticed twice (a job delivered twice, two processes) is queued once per webhook.
 * Returns the number of deliveries queued.
 */
export async function queueEvent(
  db: Kysely<Database>,
  workspaceId: string,
  event: WebhookEventName,
  eventKey: string,
  payload: WebhookEvent,
): Promise<number> {
  const hooks = await db.selectFrom("webhooks").select("id").where("workspace_id", "=", workspaceId).execute();
  const at = now();
  let queued = 0;
  for (const hook of hooks) {
    const result = await db
      .insertInto("webhook_deliveries")
      .values({
        id: randomUUID(),
        webhook_id: hook.id,
        workspace_id: workspaceId,
        event,
        event_key: eventKey,
        payload: JSON.stringify(payload),
        state: "pending",
        attempts: 0,
        next_attempt_at: at,
        lease_owner: null,
        lease_expires_at: null,
        last_status: null,
        last_error: null,
        created_at: at,
        updated_at: at,
        delivered_at: null,
      })
      .onConflict((oc) => oc.columns(["webhook_id", "event_key"]).doNothing())
      .executeTakeFirst();
    queued += Number(result.numInsertedOrUpdatedRows ?? 0);
  }
  return queued;
}

export interface ClaimedDelivery {
  id: string;
  attempt: number;
  payload: string;
  url: string;
  secret: string;
}

/**
 * Claims the oldest due delivery for `owner` (one `UPDATE … RETURNING`, as the embedded job queue claims jobs):
 * a pending one whose time has come, or one whose claimer died (lease expired). Returns it with the secret
 * unsealed, or undefined when nothing is due.
 */
export async function claimDelivery(
  db: Kysely<Database>,
  box: SecretBox,
  owner: string,
  leaseMs: number,
): Promise<ClaimedDelivery | undefined> {
  const at = new Date().toISOString();
  const due = (eb: ExpressionBuilder<Database, "webhook_deliveries">): Expression<SqlBool> =>
    eb.or([
      eb.and([eb("state", "=", "pending"), eb("next_attempt_at", "<=", at)]),
      eb.and([eb("state", "=", "delivering"), eb("lease_expires_at", "<", at)]),
    ]);
  const row = await db
    .updateTable("webhook_deliveries")
    .set({
      state: "delivering",
      lease_owner: owner,
      lease_expires_at: new Date(Date.now() + leaseMs).toISOString(),
      attempts: sql<number>`attempts + 1`,
    })
    .where("id", "=", (eb) =>
      eb.selectFrom("webhook_deliveries").select("id").where(due).orderBy("next_attempt_at").limit(1),
    )
    .where(due)
    .returning(["id", "webhook_id", "attempts", "payload"])
    .executeTakeFirst();
  if (!row) return undefined;
  const hook = await db.selectFrom("webhooks").selectAll().where("id", "=", row.webhook_id).executeTakeFirst();
  if (!hook) {
    // Deleted meanwhile: nothing to deliver to.
    await db.deleteFrom("webhook_deliveries").where("id", "=", row.id).execute();
    return undefined;
  }
  return {
    id: row.id,
    attempt: Number(row.attempts),
    payload: row.payload,
    url: hook.url,
    secret: box.decrypt(hook.secret, aad(hook.id)),
  };
}

/** Records one attempt and the delivery's next state: delivered, retried at `retryAt`, or given up (undefined). */
export async function recordAttempt(
  db: Kysely<Database>,
  delivery: ClaimedDelivery,
  owner: string,
  outcome: { startedAt: string; status: number | null; error: string | null; ok: boolean; retryAt?: string },
): Promise<void> {
  const at = now();
  await db.transaction().execute(async (trx) => {
    await trx
      .insertInto("webhook_attempts")
      .values({
        delivery_id: delivery.id,
        attempt: delivery.attempt,
        started_at: outcome.startedAt,
        finished_at: at,
        status_code: outcome.status,
        error: outcome.error,
      })
      .onConflict((oc) => oc.columns(["delivery_id", "attempt"]).doNothing())
      .execute();
    await trx
      .updateTable("webhook_deliveries")
      .set({
        state: outcome.ok ? "delivered" : outcome.retryAt ? "pending" : "failed",
        next_attempt_at: outcome.retryAt ?? at,
        lease_owner: null,
        lease_expires_at: null,
        last_status: outcome.status,
        last_error: outcome.error,
        updated_at: at,
        delivered_at: outcome.ok ? at : null,
      })
      .where("id", "=", delivery.id)
      .where("lease_owner", "=", owner)
      .execute();
  });
}
