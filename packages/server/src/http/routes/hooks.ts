import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyPluginCallbackTypebox } from "@fastify/type-provider-typebox";
import { HubClient } from "@modelvet/engine";
import { Type } from "typebox";
import { hubTarget } from "../../jobs/follow-poller.js";
import { now } from "../../store/common.js";
import { followedModelsOf, noticeCommit, type FollowedModel } from "../../store/follow.js";
import { hubTokenOf } from "../../store/integrations.js";
import { sendError } from "../errors.js";
import { errorResponses } from "../schemas.js";
import type { Services } from "../services.js";

/**
 * `POST /api/v1/hooks/huggingface/{workspace_id}`: the Hub's webhook for repo updates. It carries no API key;
 * the Hub sends the secret configured on its side as X-Webhook-Secret, compared in constant time with the
 * workspace's (PATCH /workspaces/{id}/follow). Every refusal is the same 401, whether the workspace exists or not,
 * and queues nothing. A delivery repeated with the same body is recognised and queues nothing either.
 */
const HubWebhook = Type.Object(
  {
    event: Type.Object({ action: Type.String(), scope: Type.String() }, { additionalProperties: true }),
    repo: Type.Object(
      { type: Type.String(), name: Type.String({ maxLength: 200 }), headSha: Type.Optional(Type.String()) },
      { additionalProperties: true },
    ),
    updatedRefs: Type.Optional(
      Type.Array(
        Type.Object({ ref: Type.String(), newSha: Type.Optional(Type.String()) }, { additionalProperties: true }),
        { maxItems: 100 },
      ),
    ),
  },
  { additionalProperties: true },
);

const HookAnswer = Type.Object(
  {
    queued: Type.Array(Type.String({ description: "ids of the file scans queued" })),
    duplicate: Type.Boolean(),
    ignored: Type.Optional(Type.String({ description: "why nothing was done with an accepted delivery" })),
  },
  { additionalProperties: false },
);

const COMMIT = /^[0-9a-f]{40}$/;

export const hookRoutes: FastifyPluginCallbackTypebox<{ services: Services }> = (app, { services }, done) => {
  const { db, box, queue, classifier } = services;

  app.post(
    "/hooks/huggingface/:workspace_id",
    {
      schema: {
        tags: ["follow"],
        summary: "Hub webhook: a followed repo changed (authenticated by X-Webhook-Secret, not an API key)",
        params: Type.Object({ workspace_id: Type.String({ maxLength: 100 }) }),
        body: HubWebhook,
        security: [],
        response: { 202: HookAnswer, ...errorResponses },
      },
      // Checked before the body is even validated: a caller without the secret learns nothing.
      preValidation: async (request, reply) => {
        const { workspace_id: id } = request.params;
        const row = await db.selectFrom("workspaces").select(["hook_secret"]).where("id", "=", id).executeTakeFirst();
        const expected = row?.hook_secret ? box.decrypt(row.hook_secret, hookAad(id)) : undefined;
        const given = request.headers["x-webhook-secret"];
        if (!secretMatches(typeof given === "string" ? given : undefined, expected))
          return sendError(reply, 401, "wrong or missing X-Webhook-Secret for this workspace's Hub webhook");
        return undefined;
      },
    },
    async (request, reply) => {
      const workspaceId = request.params.workspace_id;
      const { event, repo, updatedRefs } = request.body;
      if (repo.type !== "model" || !event.scope.startsWith("repo") || !["create", "update"].includes(event.action))
        return reply.code(202).send({ queued: [], duplicate: false, ignored: `event ${event.scope} ${event.action}` });
      // The Hub retries a delivery it thinks failed with the same body: each body is remembered for a day.
      await db
        .deleteFrom("hook_deliveries")
        .where("received_at", "<", new Date(Date.now() - 86_400_000).toISOString())
        .execute();
      const delivery = createHash("sha256").update(JSON.stringify(request.body)).digest("hex");
      const fresh = await db
        .insertInto("hook_deliveries")
        .values({ workspace_id: workspaceId, delivery_id: delivery, received_at: now() })
        .onConflict((oc) => oc.doNothing())
        .executeTakeFirst();
      if (Number(fresh.numInsertedOrUpdatedRows ?? 0n) === 0)
        return reply.code(202).send({ queued: [], duplicate: true });
      const queued: string[] = [];
      for (const model of await followedModelsOf(db, workspaceId, repo.name)) {
        const sha = await commitOf(model, updatedRefs);
        const id = await noticeCommit(db, queue, model, sha, "new commit (webhook)", classifier.version, "scan");
        if (id) queued.push(id);
      }
      request.log.info({ workspace_id: workspaceId, repo: repo.name, queued: queued.length }, "Hub webhook received");
      return reply.code(202).send({ queued, duplicate: false });
    },
  );

  /** The new commit of the model's own branch or tag from the delivery, else asked of the Hub (one request). */
  async function commitOf(model: FollowedModel, refs: Array<{ ref: string; newSha?: string }> | undefined) {
    const named = refs?.find(
      (r) => r.ref === `refs/heads/${model.revision}` || r.ref === `refs/tags/${model.revision}`,
    );
    if (named?.newSha && COMMIT.test(named.newSha)) return named.newSha;
    const token = model.integration_id ? await hubTokenOf(db, box, model.integration_id) : undefined;
    const hub = new HubClient({ endpoint: services.hubEndpoint ?? "https://huggingface.co", token: token?.token });
    return hub.resolveRevision(hubTarget(model.model_uri, model.revision));
  }

  done();
};

/** Binds a sealed hook secret to its workspace (a sealed value copied to another row does not open). */
export function hookAad(workspaceId: string): string {
  return `hook_secret:${workspaceId}`;
}

/** Constant-time: both sides are hashed first, so neither the length nor a prefix of the secret leaks. */
function secretMatches(given: string | undefined, expected: string | undefined): boolean {
  if (given === undefined || expected === undefined) return false;
  const a = createHash("sha256").update(given).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b);
}
