import type { FastifyReply, FastifyRequest } from "fastify";
import type { Kysely } from "kysely";
import type { Database } from "../db/schema.js";
import type { Scope } from "../store/common.js";
import { authenticate } from "../store/workspaces.js";
import { sendError } from "./errors.js";

declare module "fastify" {
  interface FastifyRequest {
    scope?: Scope;
  }
}

/** Keys are `mv_` + 43 base64url characters; anything far longer is refused before hashing. */
const MAX_KEY_LENGTH = 256;

/** An onRequest hook: every /api/v1 call needs a known Bearer key; it sets `request.scope`. */
export function authHook(db: Kysely<Database>) {
  // Returning the reply after sending tells Fastify the hook answered the request itself.
  return async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    const header = request.headers.authorization;
    const key = header?.startsWith("Bearer ") ? header.slice(7).trim() : undefined;
    if (!key) {
      return sendError(reply, 401, "send your API key as Authorization: Bearer <api key>");
    }
    const scope = key.length <= MAX_KEY_LENGTH ? await authenticate(db, key) : undefined;
    if (!scope) {
      return sendError(reply, 401, "unknown API key; ask an admin for a key of your workspace");
    }
    request.scope = scope;
    return undefined;
  };
}

export function scopeOf(request: FastifyRequest): Scope {
  if (!request.scope) throw new Error("route without authentication");
  return request.scope;
}
