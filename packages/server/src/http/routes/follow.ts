import type { FastifyPluginCallbackTypebox } from "@fastify/type-provider-typebox";
import { getWorkspace } from "../../store/workspaces.js";
import { ForbiddenError } from "../../store/common.js";
import { scopeOf } from "../auth.js";
import { errorResponses, FollowSettings, FollowSettingsBody, params } from "../schemas.js";
import type { Services } from "../services.js";
import { hookAad } from "./hooks.js";

/** A workspace's continuous-scanning settings: poll interval and the Hub webhook secret. */
export const followRoutes: FastifyPluginCallbackTypebox<{ services: Services; defaultIntervalSeconds: number }> = (
  app,
  { services, defaultIntervalSeconds },
  done,
) => {
  const { db, box } = services;

  async function settings(id: string) {
    const row = await db
      .selectFrom("workspaces")
      .select(["poll_interval_seconds", "hook_secret"])
      .where("id", "=", id)
      .executeTakeFirstOrThrow();
    return {
      workspace_id: id,
      poll_interval_seconds: row.poll_interval_seconds ?? defaultIntervalSeconds,
      poll_interval_is_default: row.poll_interval_seconds === null,
      hook_secret_set: row.hook_secret !== null,
      hook_path: `/api/v1/hooks/huggingface/${id}`,
    };
  }

  app.get(
    "/workspaces/:workspace_id/follow",
    {
      schema: {
        tags: ["follow"],
        summary: "A workspace's poll interval and whether its Hub webhook is set",
        params: params.workspace,
        response: { 200: FollowSettings, ...errorResponses },
      },
    },
    async (request) => {
      await getWorkspace(db, scopeOf(request), request.params.workspace_id);
      return settings(request.params.workspace_id);
    },
  );

  app.patch(
    "/workspaces/:workspace_id/follow",
    {
      schema: {
        tags: ["follow"],
        summary: "Set a workspace's poll interval and Hub webhook secret",
        params: params.workspace,
        body: FollowSettingsBody,
        response: { 200: FollowSettings, ...errorResponses },
      },
    },
    async (request) => {
      const scope = scopeOf(request);
      const id = request.params.workspace_id;
      await getWorkspace(db, scope, id);
      if (!scope.admin && scope.workspaceId !== id) throw new ForbiddenError("not your workspace");
      const { poll_interval_seconds: interval, hook_secret: secret } = request.body;
      await db
        .updateTable("workspaces")
        .set({
          ...(interval !== undefined ? { poll_interval_seconds: interval } : {}),
          ...(secret !== undefined ? { hook_secret: secret === null ? null : box.encrypt(secret, hookAad(id)) } : {}),
        })
        .where("id", "=", id)
        .execute();
      // A shorter interval applies now, not after the old one ran out.
      if (interval !== undefined)
        await db.updateTable("models").set({ next_poll_at: null }).where("workspace_id", "=", id).execute();
      return settings(id);
    },
  );

  done();
};
