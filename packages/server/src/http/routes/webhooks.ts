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
import { CreateWebhookBody, errorResponses, params, Uuid, Webhook, WebhookDelivery } from "../schemas.js";
import type { Services } from "../services.js";

const closed = { additionalProperties: false } as const;

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
        response: { 200: Type.Object({ deliveries: Type.Array(WebhookDelivery) }, closed), ...errorResponses },
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
