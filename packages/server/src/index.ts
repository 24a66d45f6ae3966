export { configFromEnv, StartupError, type ServiceConfig } from "./config.js";
export { startService, type Service, type ServiceOptions } from "./service.js";
export { createLogger, REDACT_PATHS } from "./logger.js";
export { buildApp, API_PREFIX, type App } from "./http/app.js";
export { openDb, type Db } from "./db/connect.js";
export type { Database } from "./db/schema.js";
export type { JobQueue, JobHandler, Job } from "./jobs/queue.js";
export { SecretBox } from "./security/secret-box.js";
export { rotateAdminKey } from "./admin.js";
