/**
 * @modelvet/sdk — TypeScript client of the modelvet service (fetch-based). Its types come from @modelvet/schema,
 * type-only: the client loads no code but its own.
 *
 *   const client = new Client({ domain: "http://localhost:8080", apiKey: process.env.MODELVET_API_KEY! });
 */
export { Client, type ClientOptions } from "./client.js";
export { ModelvetError, ModelvetTimeoutError } from "./errors.js";
export { normaliseDomain, SDK_VERSION } from "./http.js";
export { FileScanJob, type GetStatusOptions } from "./job.js";
export { ProjectHandle } from "./project.js";
export { verifyWebhookSignature, WEBHOOK_TOLERANCE_SECONDS, type VerifyOptions } from "./webhook-signature.js";
export type * from "./types.js";
