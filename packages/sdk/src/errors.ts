/**
 * A failed call. `status` is the HTTP status (undefined when the server could not be reached), `code` the server's
 * error code (e.g. "NotFound") and `reason` its sentence; `message` joins them. Messages never carry the API key.
 */
export class ModelvetError extends Error {
  override name = "ModelvetError";
  constructor(
    readonly reason: string,
    readonly status?: number,
    readonly code?: string,
  ) {
    super(status === undefined ? reason : `${status} ${code ?? "Error"}: ${reason}`);
  }
}

/** A request, or a wait for a file scan to finish, ran out of time. */
export class ModelvetTimeoutError extends ModelvetError {
  override name = "ModelvetTimeoutError";
}
