import { ErrorBody } from "@modelvet/schema";

/**
 * The API's JSON schemas are defined once, in @modelvet/schema (docs/API.md): routes validate requests and
 * serialise responses with them, and the OpenAPI document is built from them. This file adds what only routes need.
 */
export * from "@modelvet/schema";

/** Every route may answer these. */
export const errorResponses = { "4xx": ErrorBody, "5xx": ErrorBody };
