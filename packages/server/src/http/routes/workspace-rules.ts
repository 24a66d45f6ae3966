import type { FastifyPluginCallbackTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import { rejudgeLatest } from "../../store/rejudge.js";
import { classifierFor, latestRules, listRuleVersions, saveRules } from "../../store/workspace-rules.js";
import { getWorkspace } from "../../store/workspaces.js";
import { scopeOf } from "../auth.js";
import { errorResponses, params, WorkspaceRules, WorkspaceRulesChange, WorkspaceRulesVersion } from "../schemas.js";
import type { Services } from "../services.js";

/** Workspace custom rules: read, replace (a new version), clear, list versions. A change re-judges at once. */
export const workspaceRulesRoutes: FastifyPluginCallbackTypebox<{ services: Services }> = (app, { services }, done) => {
  const { db, classifier } = services;

  async function view(workspaceId: string) {
    const latest = await latestRules(db, workspaceId);
    const current = await classifierFor(db, classifier, workspaceId);
    return {
      workspace_id: workspaceId,
      version: latest?.version ?? 0,
      rules: latest?.rules ?? null,
      created_at: latest?.created_at ?? null,
      created_by: latest?.created_by ?? null,
      rules_version: current.version,
    };
  }

  async function change(workspaceId: string, rules: Record<string, unknown> | null, keyId: string) {
    await saveRules(db, classifier, workspaceId, rules, keyId);
    const summary = await rejudgeLatest(db, (ws) => classifierFor(db, classifier, ws), workspaceId, {
      ...(services.publicUrl ? { publicUrl: services.publicUrl } : {}),
    });
    return { ...(await view(workspaceId)), rejudged: summary.rejudged, changed_models: summary.changed };
  }

  app.get(
    "/workspaces/:workspace_id/rules",
    {
      schema: {
        tags: ["rules"],
        summary: "A workspace's custom rules (newest version)",
        params: params.workspace,
        response: { 200: WorkspaceRules, ...errorResponses },
      },
    },
    async (request) => {
      await getWorkspace(db, scopeOf(request), request.params.workspace_id);
      return view(request.params.workspace_id);
    },
  );

  app.put(
    "/workspaces/:workspace_id/rules",
    {
      schema: {
        tags: ["rules"],
        summary: "Replace a workspace's custom rules (a new version); latest results are judged again",
        params: params.workspace,
        // Validated by the engine against rules-file.schema.json, the same check as `--rules FILE`.
        body: Type.Object({}, { additionalProperties: true }),
        response: { 200: WorkspaceRulesChange, ...errorResponses },
      },
    },
    async (request) => {
      const scope = scopeOf(request);
      await getWorkspace(db, scope, request.params.workspace_id);
      return change(request.params.workspace_id, request.body as Record<string, unknown>, scope.keyId);
    },
  );

  app.delete(
    "/workspaces/:workspace_id/rules",
    {
      schema: {
        tags: ["rules"],
        summary: "Clear a workspace's custom rules (a new version without rules); latest results are judged again",
        params: params.workspace,
        response: { 200: WorkspaceRulesChange, ...errorResponses },
      },
    },
    async (request) => {
      const scope = scopeOf(request);
      await getWorkspace(db, scope, request.params.workspace_id);
      return change(request.params.workspace_id, null, scope.keyId);
    },
  );

  app.get(
    "/workspaces/:workspace_id/rules/versions",
    {
      schema: {
        tags: ["rules"],
        summary: "Every version of a workspace's custom rules, newest first (who and when)",
        params: params.workspace,
        response: {
          200: Type.Object({
            versions: Type.Array(WorkspaceRulesVersion),
          }),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      await getWorkspace(db, scopeOf(request), request.params.workspace_id);
      return { versions: await listRuleVersions(db, request.params.workspace_id) };
    },
  );

  done();
};
