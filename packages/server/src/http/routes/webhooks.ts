import type { FastifyPluginCallbackTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import { checkWebhookTarget, parseWebhookUrl, WebhookTargetError } from "../../security/webhook-target.js";
import { ConflictError, InvalidRequestError } from "../../store/common.js";
import {
  countWebhooks,
  createWebhook,
  deleteWebhook,
  getWebhook,
  listDeliveries,
  listWebhooks,
  MAX_WEBHOOKS,
} from "../../store/webhooks.js";
import { getWorkspace } from "../../store/workspaces.js";
import { scopeOf } from "../auth.js";
import { errorResponses, params, Uuid } from "../schemas.js";
import type { Services } from "../services.js";

const closed = { additionalProperties: false } as const;
const Nullable = <T extends ReturnType<typeof Type.String> | ReturnType<typeof Type.Integer>>(t: T) =>
  Type.Union([t, Type.Null()]);

const Webhook = Type.Object(
  {
    webhook_id: Uuid,
    workspace_id: Uuid,
    url: Type.String(),
    description: Type.String(),
    created_at: Type.String(),
    created_by: Type.String({ description: "id of the API key that created it" }),
  },
  { ...closed, description: "an outbound webhook (its secret is write-only and never returned)" },
);

const CreateWebhookBody = Type.Object(
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

const Attempt = Type.Object(
  {
    attempt: Type.Integer(),
    started_at: Type.String(),
    finished_at: Type.String(),
    status_code: Nullable(Type.Integer()),
    error: Nullable(Type.String()),
  },
  closed,
);

const Delivery = Type.Object(
  {
    delivery_id: Uuid,
    webhook_id: Uuid,
    event: Type.String({ description: "alert | severity_changed | scan_failed" }),
    state: Type.Union([
      Type.Literal("pending"),
      Type.Literal("delivering"),
      Type.Literal("delivered"),
      Type.Literal("failed"),
    ]),
    attempts: Type.Integer(),
    last_status: Nullable(Type.Integer()),
    last_error: Nullable(Type.String()),
    created_at: Type.String(),
    updated_at: Type.String(),
    next_attempt_at: Nullable(Type.String()),
    delivered_at: Nullable(Type.String()),
    attempt_log: Type.Array(Attempt),
  },
  closed,
);

const webhookParams = Type.Object({ workspace_id: Uuid, webhook_id: Uuid }, closed);

/** Outbound webhooks of a workspace: create, list, read, delete, and each one's delivery log. */
export const webhookRoutes: FastifyPluginCallbackTypebox<{ services: Services }> = (app, { services }, done) => {
  const { db, box } = services;
  const allowPrivate = services.webhooksAllowPrivate ?? false;

  app.post(
    "/workspaces/:workspace_id/webhooks",
    {
      schema: {
        tags: ["webhooks"],
        summary: "Add an outbound webhook: new Alerts, severity changes and failed scans of followed models",
        params: params.workspace,
        body: CreateWebhookBody,
        response: { 201: Webhook, ...errorResponses },
      },
    },
    async (request, reply) => {
      const scope = scopeOf(request);
      const workspaceId = request.params.workspace_id;
      await getWorkspace(db, scope, workspaceId);
      if ((await countWebhooks(db, workspaceId)) >= MAX_WEBHOOKS)
        throw new ConflictError(`a workspace has at most ${MAX_WEBHOOKS} webhooks; delete one first`);
      const url = await checkedUrl(request.body.url, allowPrivate);
      const hook = await createWebhook(db, box, {
        workspaceId,
        url: url.href,
        secret: request.body.secret,
        description: request.body.description ?? "",
        keyId: scope.keyId,
      });
      return reply.code(201).send(hook);
    },
  );

  app.get(
    "/workspaces/:workspace_id/webhooks",
    {
      schema: {
        tags: ["webhooks"],
        summary: "A workspace's outbound webhooks",
        params: params.workspace,
        response: { 200: Type.Object({ webhooks: Type.Array(Webhook) }, closed), ...errorResponses },
      },
    },
    async (request) => {
      await getWorkspace(db, scopeOf(request), request.params.workspace_id);
      return { webhooks: await listWebhooks(db, request.params.workspace_id) };
    },
  );

  app.get(
    "/workspaces/:workspace_id/webhooks/:webhook_id",
    {
      schema: {
        tags: ["webhooks"],
        summary: "One outbound webhook",
        params: webhookParams,
        response: { 200: Webhook, ...errorResponses },
      },
    },
    async (request) => {
      await getWorkspace(db, scopeOf(request), request.params.workspace_id);
      return getWebhook(db, request.params.workspace_id, request.params.webhook_id);
    },
  );

  app.delete(
    "/workspaces/:workspace_id/webhooks/:webhook_id",
    {
      schema: {
        tags: ["webhooks"],
        summary: "Delete an outbound webhook with its pending deliveries and log",
        params: webhookParams,
        response: { 204: Type.Null({ description: "deleted" }), ...errorResponses },
      },
    },
    async (request, reply) => {
      await getWorkspace(db, scopeOf(request), request.params.workspace_id);
      await deleteWebhook(db, request.params.workspace_id, request.params.webhook_id);
      return reply.code(204).send(null);
    },
  );

  app.get(
    "/workspaces/:workspace_id/webhooks/:webhook_id/deliveries",
    {
      schema: {
        tags: ["webhooks"],
        summary: "A webhook's delivery log, newest first: state, attempts, status codes, errors",
        params: webhookParams,
        response: { 200: Type.Object({ deliveries: Type.Array(Delivery) }, closed), ...errorResponses },
      },
    },
    async (request) => {
      await getWorkspace(db, scopeOf(request), request.params.workspace_id);
      await getWebhook(db, request.params.workspace_id, request.params.webhook_id);
      return { deliveries: await listDeliveries(db, request.params.webhook_id) };
    },
  );

  done();
};

/** The URL when it is http(s) and (unless the operator allows private targets) resolves to public addresses only. */
async function checkedUrl(text: string, allowPrivate: boolean): Promise<URL> {
  try {
    const url = parseWebhookUrl(text);
    await checkWebhookTarget(url, allowPrivate);
    return url;
  } catch (e) {
    if (e instanceof WebhookTargetError) throw new InvalidRequestError(e.message);
    throw e;
  }
}
