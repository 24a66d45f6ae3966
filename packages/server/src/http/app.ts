import { existsSync } from "node:fs";
import { join } from "node:path";
import fastifyStatic from "@fastify/static";
import fastifySwagger from "@fastify/swagger";
import fastifySwaggerUi from "@fastify/swagger-ui";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import Fastify, { type RouteOptions } from "fastify";
import { sql } from "kysely";
import type { Logger } from "pino";
import { authHook } from "./auth.js";
import { errorHandler, sendError } from "./errors.js";
import { nameComponents } from "./openapi-components.js";
import { fileScanRoutes } from "./routes/file-scans.js";
import { followRoutes } from "./routes/follow.js";
import { hookRoutes } from "./routes/hooks.js";
import { workspaceRulesRoutes } from "./routes/workspace-rules.js";
import { manageRoutes } from "./routes/manage.js";
import { projectRoutes } from "./routes/projects.js";
import { reportRoutes } from "./routes/reports.js";
import { webhookRoutes } from "./routes/webhooks.js";
import { workspaceRoutes } from "./routes/workspaces.js";
import type { Services } from "./services.js";

export const API_PREFIX = "/api/v1";
const BODY_LIMIT = 1024 * 1024;

export interface AppOptions {
  services: Services;
  logger: Logger;
  /** The built web UI; served at `/` when the folder exists. */
  webDir?: string;
}

/** The HTTP app: the API under /api/v1, OpenAPI at /openapi.json, docs at /docs, /healthz, and the web UI. */
// The return type is inferred: it carries the TypeBox type provider and the pino logger type.
export async function buildApp(options: AppOptions) {
  const app = Fastify({
    loggerInstance: options.logger,
    bodyLimit: BODY_LIMIT,
    // Reject (not silently drop) unknown fields, and never coerce types: `{"name": 5}` is an error.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.setErrorHandler(errorHandler);
  await app.register(fastifySwagger, {
    openapi: {
      openapi: "3.0.3",
      info: {
        title: "modelvet API",
        version: "1",
        description: "Model registry and file scans (docs/API.md).",
        license: { name: "Apache-2.0", url: "https://www.apache.org/licenses/LICENSE-2.0" },
      },
      servers: [{ url: "/", description: "the server that answers this document" }],
      components: { securitySchemes: { apiKey: { type: "http", scheme: "bearer" } } },
      security: [{ apiKey: [] }],
    },
    // Only the OpenAPI 3 document is generated here (no Swagger 2 object).
    transformObject: (document) =>
      nameComponents((document as { openapiObject: Record<string, unknown> }).openapiObject),
  });
  await app.register(fastifySwaggerUi, { routePrefix: "/docs" });

  app.get("/openapi.json", { schema: { hide: true } }, () => app.swagger());
  app.get("/healthz", { schema: { hide: true } }, async () => {
    await sql`select 1`.execute(options.services.db);
    return { status: "ok" };
  });

  await app.register(
    async (api) => {
      api.addHook("onRequest", authHook(options.services.db));
      api.addHook("onRoute", nameOperation);
      await api.register(workspaceRoutes, { services: options.services });
      await api.register(projectRoutes, { services: options.services });
      await api.register(fileScanRoutes, { services: options.services });
      await api.register(manageRoutes, { services: options.services });
      await api.register(reportRoutes, { services: options.services });
      await api.register(workspaceRulesRoutes, { services: options.services });
      await api.register(webhookRoutes, { services: options.services });
      await api.register(followRoutes, {
        services: options.services,
        defaultIntervalSeconds: options.services.followIntervalSeconds ?? 900,
      });
    },
    { prefix: API_PREFIX },
  );
  // Outside the API-key hook: the Hub authenticates its webhook with the workspace's secret instead.
  await app.register(
    async (hooks) => {
      hooks.addHook("onRoute", nameOperation);
      await hooks.register(hookRoutes, { services: options.services });
    },
    { prefix: API_PREFIX },
  );

  const webDir = options.webDir && existsSync(join(options.webDir, "index.html")) ? options.webDir : undefined;
  if (webDir) await app.register(fastifyStatic, { root: webDir, prefix: "/" });
  app.setNotFoundHandler((request, reply) => {
    // The web UI routes on the client: any other GET page answers its index.html.
    const path = request.url.split("?")[0] ?? "";
    if (webDir && request.method === "GET" && !path.startsWith("/api/") && !path.startsWith("/docs"))
      return reply.type("text/html").sendFile("index.html");
    return sendError(reply, 404, `no route ${request.method} ${path}; see /docs`);
  });
  return app;
}

/**
 * Every documented operation gets an operationId derived from its method and path (stable, unique, what
 * client generators name methods after), and must carry a summary: a route without one fails at start-up.
 */
function nameOperation(route: RouteOptions): void {
  const schema = (route.schema ?? {}) as { hide?: boolean; summary?: string; operationId?: string };
  if (schema.hide || route.method === "HEAD" || route.method === "OPTIONS") return;
  const method = Array.isArray(route.method) ? route.method.join("") : route.method;
  if (!schema.summary) throw new Error(`route ${method} ${route.url} has no summary for the OpenAPI document`);
  if (schema.operationId) return;
  const words = route.url
    .replace(API_PREFIX, "")
    .split(/[/_-]/)
    .filter(Boolean)
    .map((w) => (w.startsWith(":") ? "by_" + w.slice(1) : w));
  const camel = [method.toLowerCase(), ...words.join("_").split("_")]
    .map((w, i) => (i === 0 ? w : w.charAt(0).toUpperCase() + w.slice(1)))
    .join("");
  route.schema = { ...schema, operationId: camel };
}

export type App = Awaited<ReturnType<typeof buildApp>>;
