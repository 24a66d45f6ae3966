/**
 * @modelvet/schema — the JSON shapes of modelvet's reports and HTTP API, defined once. Each shape is a TypeBox
 * object, which is a plain JSON Schema: the server validates and serialises with it and publishes it as OpenAPI,
 * the engine, the SDK and the web UI take their types from it (`Static<>`), and dist/schemas.json holds every named
 * shape for other languages (the Python SDK's tests check its records against it).
 */
export * from "./report.js";
export * from "./api.js";
export * from "./webhooks.js";
