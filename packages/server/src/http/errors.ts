import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { ConflictError, ForbiddenError, InvalidRequestError, NotFoundError } from "../store/common.js";

/** Error names by status, for `{ error, message }` answers. */
const NAMES: Record<number, string> = {
  400: "BadRequest",
  401: "Unauthorized",
  403: "Forbidden",
  404: "NotFound",
  405: "MethodNotAllowed",
  409: "Conflict",
  413: "PayloadTooLarge",
  415: "UnsupportedMediaType",
  406: "NotAcceptable",
  429: "TooManyRequests",
  501: "NotImplemented",
};

export function sendError(reply: FastifyReply, status: number, message: string): FastifyReply {
  return reply
    .code(status)
    .type("application/json")
    .send({ error: NAMES[status] ?? "InternalError", message });
}

/** Maps every thrown error to `{ error, message }` with a status; 5xx details stay in the log. */
export function errorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (error instanceof NotFoundError) return sendError(reply, 404, error.message);
  if (error instanceof ForbiddenError) return sendError(reply, 403, error.message);
  if (error instanceof InvalidRequestError) return sendError(reply, 400, error.message);
  if (error instanceof ConflictError) return sendError(reply, 409, error.message);
  if (error.validation) return sendError(reply, 400, validationMessage(error));
  if (error.code === "FST_ERR_CTP_BODY_TOO_LARGE")
    return sendError(reply, 413, "the request body is larger than 1 MiB; send a smaller body");
  const status = error.statusCode ?? 500;
  if (status >= 400 && status < 500) return sendError(reply, status, error.message);
  request.log.error({ err: error }, "request failed");
  return sendError(reply, 500, "internal error; the server log has the details");
}

/** Names the offending field: ajv's own text for unknown fields does not say which one it is. */
function validationMessage(error: FastifyError): string {
  const first = error.validation?.[0];
  const where = `${error.validationContext ?? "request"}${first?.instancePath.replaceAll("/", ".") ?? ""}`;
  if (!first) return error.message;
  const params = first.params as { additionalProperty?: string; missingProperty?: string; format?: string };
  if (first.keyword === "additionalProperties")
    return `${where} has an unknown field "${params.additionalProperty}"; remove it`;
  if (first.keyword === "required") return `${where} needs the field "${params.missingProperty}"`;
  if (first.keyword === "format" && params.format === "uuid") return `${where} must be an id (a UUID)`;
  return `${where} ${first.message ?? "is invalid"}`;
}
