import { Type, type Static, type TSchema } from "typebox";
import { Severity } from "./report.js";

/**
 * Outbound webhooks (docs/API.md, "Webhooks"): the webhook and its delivery log as the API returns them, and the
 * event body the service POSTs to a receiver. The store, the routes, the SDKs, the web UI and receivers' own code
 * take these shapes from here.
 */

const closed = { additionalProperties: false } as const;
const Uuid = Type.String({ format: "uuid", description: "an id (UUID)" });
const Timestamp = Type.String({ description: "ISO 8601" });
const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

export const Webhook = Type.Object(
  {
    webhook_id: Uuid,
    workspace_id: Uuid,
    url: Type.String(),
    description: Type.String(),
    created_at: Timestamp,
    created_by: Type.String({ description: "id of the API key that created it" }),
  },
  { ...closed, description: "an outbound webhook (its secret is write-only and never returned)" },
);

export const CreateWebhookBody = Type.Object(
  {
    url: Type.String({ maxLength: 2000, description: "http(s) URL the events are POSTed to" }),
    secret: Type.String({
      minLength: 16,
      maxLength: 256,
      description: "signs every event (X-Modelvet-Signature); stored encrypted, never returned",
    }),
    description: Type.Optional(Type.String({ maxLength: 200 })),
  },
  closed,
);

export const WebhookEventName = Type.Union(
  [Type.Literal("alert"), Type.Literal("severity_changed"), Type.Literal("scan_failed")],
  {
    description: "alert: a new Alert; severity_changed: another severity; scan_failed: a followed model's scan failed",
  },
);

/** One attempt of a delivery: the receiver's status, or why there was none. */
export const WebhookAttempt = Type.Object(
  {
    attempt: Type.Integer({ minimum: 1 }),
    started_at: Timestamp,
    finished_at: Timestamp,
    status_code: Nullable(Type.Integer()),
    error: Nullable(Type.String()),
  },
  closed,
);

/** One event sent (or being sent) to a webhook, with every attempt. */
export const WebhookDelivery = Type.Object(
  {
    delivery_id: Uuid,
    webhook_id: Uuid,
    event: WebhookEventName,
    state: Type.Union([
      Type.Literal("pending"),
      Type.Literal("delivering"),
      Type.Literal("delivered"),
      Type.Literal("failed"),
    ]),
    attempts: Type.Integer({ minimum: 0 }),
    last_status: Nullable(Type.Integer()),
    last_error: Nullable(Type.String()),
    created_at: Timestamp,
    updated_at: Timestamp,
    next_attempt_at: Nullable(Type.String({ description: "when the next attempt is due (pending deliveries)" })),
    delivered_at: Nullable(Timestamp),
    attempt_log: Type.Array(WebhookAttempt),
  },
  closed,
);

/** A finding an event names: the most severe of the report come first. */
export const WebhookTopFinding = Type.Object(
  {
    path: Type.String(),
    severity: Severity,
    rule: Type.String({ description: "the deciding rule (`unlisted` when none matched) or the indicator's id" }),
    what: Type.String({ description: "the import (`posix.system`) or the indicator's message" }),
    reason: Type.String(),
  },
  closed,
);

/**
 * The JSON body of every POST to a webhook, signed with X-Modelvet-Signature. No route answers with it, so the
 * OpenAPI document does not hold it; receivers find it in dist/schemas.json (and docs/API.md).
 */
export const WebhookEvent = Type.Object(
  {
    event: WebhookEventName,
    occurred_at: Nullable(Timestamp),
    workspace: Type.Object({ id: Uuid, name: Type.String() }, closed),
    model: Type.Object({ id: Uuid, name: Type.String(), repo: Type.String() }, closed),
    revision: Type.String({ description: "the branch, tag or commit the model is registered at" }),
    commit: Nullable(Type.String({ description: "the commit scanned" })),
    file_scan_id: Uuid,
    reason: Nullable(Type.String({ description: "why the scan ran (e.g. new commit (polling), rules change)" })),
    old_severity: Nullable(Severity),
    new_severity: Nullable(Severity),
    error: Type.Optional(Nullable(Type.String({ description: "scan_failed only: why it failed" }))),
    top_findings: Type.Array(WebhookTopFinding, { maxItems: 5 }),
    link: Type.String({ description: "the model's page (MODELVET_PUBLIC_URL + path, or a path)" }),
  },
  closed,
);

for (const [title, schema] of Object.entries({ Webhook, CreateWebhookBody, WebhookDelivery }))
  Object.assign(schema, { title });

export type Webhook = Static<typeof Webhook>;
export type CreateWebhookBody = Static<typeof CreateWebhookBody>;
export type WebhookEventName = Static<typeof WebhookEventName>;
export type WebhookAttempt = Static<typeof WebhookAttempt>;
export type WebhookDelivery = Static<typeof WebhookDelivery>;
export type WebhookTopFinding = Static<typeof WebhookTopFinding>;
export type WebhookEvent = Static<typeof WebhookEvent>;
