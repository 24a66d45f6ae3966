import type { FastifyPluginCallbackTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import { createIntegration, listIntegrations } from "../../store/integrations.js";
import { listProjects, modelCounts, emptyCounts } from "../../store/projects.js";
import { createApiKey, createWorkspace, getWorkspace, listWorkspaces } from "../../store/workspaces.js";
import { scopeOf } from "../auth.js";
import {
  CreateApiKeyBody,
  CreatedApiKey,
  CreateIntegrationBody,
  CreateWorkspaceBody,
  errorResponses,
  Integration,
  params,
  Workspace,
  WorkspaceSummary,
} from "../schemas.js";
import type { Services } from "../services.js";

export const workspaceRoutes: FastifyPluginCallbackTypebox<{ services: Services }> = (app, { services }, done) => {
  const { db, box } = services;

  app.post(
    "/workspaces",
    {
      schema: {
        tags: ["workspaces"],
        summary: "Create a workspace (admin keys only)",
        body: CreateWorkspaceBody,
        response: { 201: Workspace, ...errorResponses },
      },
    },
    async (request, reply) => reply.code(201).send(await createWorkspace(db, scopeOf(request), request.body.name)),
  );

  app.get(
    "/workspaces",
    {
      schema: {
        tags: ["workspaces"],
        summary: "List the workspaces this key may see",
        response: { 200: Type.Object({ workspaces: Type.Array(Workspace) }), ...errorResponses },
      },
    },
    async (request) => ({ workspaces: await listWorkspaces(db, scopeOf(request)) }),
  );

  app.get(
    "/workspaces/:workspace_id",
    {
      schema: {
        tags: ["workspaces"],
        summary: "A workspace with its projects and integrations",
        params: params.workspace,
        response: { 200: WorkspaceSummary, ...errorResponses },
      },
    },
    async (request) => {
      const scope = scopeOf(request);
      const workspace = await getWorkspace(db, scope, request.params.workspace_id);
      const projects = await listProjects(db, scope, workspace.workspace_id);
      const counts = await modelCounts(
        db,
        projects.map((p) => p.project_id),
      );
      return {
        ...workspace,
        projects: projects.map((p) => ({
          project_id: p.project_id,
          name: p.name,
          description: p.description,
          models: counts.get(p.project_id)?.models ?? 0,
          models_by_severity: counts.get(p.project_id)?.bySeverity ?? emptyCounts(),
        })),
        integrations: await listIntegrations(db, scope, workspace.workspace_id),
      };
    },
  );

  app.post(
    "/workspaces/:workspace_id/api-keys",
    {
      schema: {
        tags: ["workspaces"],
        summary: "Create a workspace API key (shown once)",
        params: params.workspace,
        body: CreateApiKeyBody,
        response: { 201: CreatedApiKey, ...errorResponses },
      },
    },
    async (request, reply) => {
      const workspace = await getWorkspace(db, scopeOf(request), request.params.workspace_id);
      return reply.code(201).send(await createApiKey(db, workspace.workspace_id, request.body.name));
    },
  );

  app.post(
    "/workspaces/:workspace_id/integrations",
    {
      schema: {
        tags: ["integrations"],
        summary: "Create an integration (secrets stored encrypted)",
        params: params.workspace,
        body: CreateIntegrationBody,
        response: { 201: Integration, ...errorResponses },
      },
    },
    async (request, reply) =>
      reply
        .code(201)
        .send(await createIntegration(db, box, scopeOf(request), request.params.workspace_id, request.body)),
  );

  app.get(
    "/workspaces/:workspace_id/integrations",
    {
      schema: {
        tags: ["integrations"],
        summary: "List a workspace's integrations (secrets never shown)",
        params: params.workspace,
        response: { 200: Type.Object({ integrations: Type.Array(Integration) }), ...errorResponses },
      },
    },
    async (request) => ({ integrations: await listIntegrations(db, scopeOf(request), request.params.workspace_id) }),
  );
  done();
};
