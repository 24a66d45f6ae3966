import type { FastifyPluginCallbackTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import { getModel, listModels, registerModel } from "../../store/models.js";
import { createProject, getProject, listProjects } from "../../store/projects.js";
import { scopeOf } from "../auth.js";
import { CreateProjectBody, errorResponses, Model, params, Project, RegisterModelBody } from "../schemas.js";
import type { Services } from "../services.js";

export const projectRoutes: FastifyPluginCallbackTypebox<{ services: Services }> = (app, { services }, done) => {
  const { db } = services;
  const rulesVersion = services.classifier.version;

  app.post(
    "/projects",
    {
      schema: {
        tags: ["projects"],
        summary: "Create a project",
        body: CreateProjectBody,
        response: { 201: Project, ...errorResponses },
      },
    },
    async (request, reply) => reply.code(201).send(await createProject(db, scopeOf(request), request.body)),
  );

  app.get(
    "/workspaces/:workspace_id/projects",
    {
      schema: {
        tags: ["projects"],
        summary: "List a workspace's projects",
        params: params.workspace,
        response: { 200: Type.Object({ projects: Type.Array(Project) }), ...errorResponses },
      },
    },
    async (request) => ({ projects: await listProjects(db, scopeOf(request), request.params.workspace_id) }),
  );

  app.get(
    "/projects/:project_id",
    {
      schema: {
        tags: ["projects"],
        summary: "A project with its models counted by severity",
        params: params.project,
        response: { 200: Project, ...errorResponses },
      },
    },
    async (request) => getProject(db, scopeOf(request), request.params.project_id),
  );

  app.post(
    "/projects/:project_id/models",
    {
      schema: {
        tags: ["models"],
        summary: "Register a Hugging Face model",
        params: params.project,
        body: RegisterModelBody,
        response: { 201: Model, ...errorResponses },
      },
    },
    async (request, reply) =>
      reply.code(201).send(await registerModel(db, scopeOf(request), request.params.project_id, request.body)),
  );

  app.get(
    "/projects/:project_id/models",
    {
      schema: {
        tags: ["models"],
        summary: "List a project's models with their latest scans",
        params: params.project,
        response: { 200: Type.Object({ models: Type.Array(Model) }), ...errorResponses },
      },
    },
    async (request) => ({ models: await listModels(db, scopeOf(request), request.params.project_id, rulesVersion) }),
  );

  app.get(
    "/models/:model_id",
    {
      schema: {
        tags: ["models"],
        summary: "A model with its latest scan and full result",
        params: params.model,
        response: { 200: Model, ...errorResponses },
      },
    },
    async (request) => getModel(db, scopeOf(request), request.params.model_id, rulesVersion),
  );
  done();
};
