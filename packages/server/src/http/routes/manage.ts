import type { FastifyPluginCallbackTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import { deleteIntegration, updateIntegration } from "../../store/integrations.js";
import {
  deleteModel,
  deleteProject,
  deleteWorkspace,
  listApiKeys,
  renameWorkspace,
  revokeApiKey,
  updateModel,
  updateProject,
} from "../../store/manage.js";
import { getModel } from "../../store/models.js";
import { scopeOf } from "../auth.js";
import {
  ApiKey,
  apiKeyParams,
  DeleteModelQuery,
  errorResponses,
  Integration,
  integrationParams,
  Model,
  params,
  Project,
  UpdateIntegrationBody,
  UpdateModelBody,
  UpdateProjectBody,
  UpdateWorkspaceBody,
  Workspace,
} from "../schemas.js";
import type { Services } from "../services.js";

const noContent = { 204: Type.Null({ description: "deleted" }), ...errorResponses };

/** PATCH and DELETE for workspaces, projects, models and integrations; listing and revoking API keys. */
export const manageRoutes: FastifyPluginCallbackTypebox<{ services: Services }> = (app, { services }, done) => {
  const { db, box } = services;
  const rulesVersion = services.classifier.version;

  app.patch(
    "/workspaces/:workspace_id",
    {
      schema: {
        tags: ["workspaces"],
        summary: "Rename a workspace",
        params: params.workspace,
        body: UpdateWorkspaceBody,
        response: { 200: Workspace, ...errorResponses },
      },
    },
    async (request) => renameWorkspace(db, scopeOf(request), request.params.workspace_id, request.body.name),
  );

  app.delete(
    "/workspaces/:workspace_id",
    {
      schema: {
        tags: ["workspaces"],
        summary: "Delete a workspace with everything in it (admin keys only)",
        params: params.workspace,
        response: noContent,
      },
    },
    async (request, reply) => {
      await deleteWorkspace(db, scopeOf(request), request.params.workspace_id);
      return reply.code(204).send(null);
    },
  );

  app.get(
    "/workspaces/:workspace_id/api-keys",
    {
      schema: {
        tags: ["workspaces"],
        summary: "List a workspace's API keys (name, prefix and creation time only)",
        params: params.workspace,
        response: { 200: Type.Object({ api_keys: Type.Array(ApiKey) }), ...errorResponses },
      },
    },
    async (request) => ({ api_keys: await listApiKeys(db, scopeOf(request), request.params.workspace_id) }),
  );

  app.delete(
    "/workspaces/:workspace_id/api-keys/:key_id",
    {
      schema: { tags: ["workspaces"], summary: "Revoke an API key", params: apiKeyParams, response: noContent },
    },
    async (request, reply) => {
      await revokeApiKey(db, scopeOf(request), request.params.workspace_id, request.params.key_id);
      return reply.code(204).send(null);
    },
  );

  app.patch(
    "/projects/:project_id",
    {
      schema: {
        tags: ["projects"],
        summary: "Edit a project's name or description",
        params: params.project,
        body: UpdateProjectBody,
        response: { 200: Project, ...errorResponses },
      },
    },
    async (request) => updateProject(db, scopeOf(request), request.params.project_id, request.body),
  );

  app.delete(
    "/projects/:project_id",
    {
      schema: {
        tags: ["projects"],
        summary: "Delete a project with its models and their scans",
        params: params.project,
        response: noContent,
      },
    },
    async (request, reply) => {
      await deleteProject(db, scopeOf(request), request.params.project_id);
      return reply.code(204).send(null);
    },
  );

  app.patch(
    "/models/:model_id",
    {
      schema: {
        tags: ["models"],
        summary: "Edit a model's name, revision or integration",
        params: params.model,
        body: UpdateModelBody,
        response: { 200: Model, ...errorResponses },
      },
    },
    async (request) => {
      const scope = scopeOf(request);
      await updateModel(db, scope, request.params.model_id, request.body);
      return getModel(db, scope, request.params.model_id, rulesVersion);
    },
  );

  app.delete(
    "/models/:model_id",
    {
      schema: {
        tags: ["models"],
        summary: "Delete a model; its scans go too unless keep_history=true",
        params: params.model,
        querystring: DeleteModelQuery,
        response: noContent,
      },
    },
    async (request, reply) => {
      const keep = request.query.keep_history === "true";
      await deleteModel(db, scopeOf(request), request.params.model_id, keep);
      return reply.code(204).send(null);
    },
  );

  app.patch(
    "/integrations/:integration_id",
    {
      schema: {
        tags: ["integrations"],
        summary: "Rename an integration or replace its fields (a secret can be replaced, never read)",
        params: integrationParams,
        body: UpdateIntegrationBody,
        response: { 200: Integration, ...errorResponses },
      },
    },
    async (request) => updateIntegration(db, box, scopeOf(request), request.params.integration_id, request.body),
  );

  app.delete(
    "/integrations/:integration_id",
    {
      schema: {
        tags: ["integrations"],
        summary: "Delete an integration no model uses",
        params: integrationParams,
        response: noContent,
      },
    },
    async (request, reply) => {
      await deleteIntegration(db, scopeOf(request), request.params.integration_id);
      return reply.code(204).send(null);
    },
  );
  done();
};
