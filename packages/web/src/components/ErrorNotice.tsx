import { ApiError } from "../api/client";

/**
 * Shows a failed call as the sentence the server wrote. role="alert" makes screen readers announce it when it
 * appears, so an error after pressing a button is never silent.
 */
export function ErrorNotice({ error, title }: { error: unknown; title?: string }) {
  if (!error) return null;
  const message =
    error instanceof Error ? error.message : typeof error === "string" ? error : "An unexpected error occurred.";
  const code = error instanceof ApiError && error.status > 0 ? ` (${error.status} ${error.code})` : "";
  return (
    <div role="alert" className="notice notice-error">
      <strong>{title ?? "Something went wrong"}:</strong> {message}
      {code && <small className="muted">{code}</small>}
    </div>
  );
}
