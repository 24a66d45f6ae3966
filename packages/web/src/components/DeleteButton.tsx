import { useMutation } from "@tanstack/react-query";
import { useState, type ReactNode } from "react";
import { ErrorNotice } from "./ErrorNotice";

/**
 * A delete in two steps: the first press asks, in the page (no browser dialog), with what will go; the second
 * deletes. `onDelete` runs the call; `onDeleted` moves on (to the parent page).
 */
export function DeleteButton({
  what,
  consequence,
  onDelete,
  onDeleted,
  children,
}: {
  /** "project Vision", shown in the buttons. */
  what: string;
  consequence: string;
  onDelete: () => Promise<unknown>;
  onDeleted: () => unknown;
  /** Options of the delete (e.g. keep the scan history). */
  children?: ReactNode;
}) {
  const [asking, setAsking] = useState(false);
  const remove = useMutation({ mutationFn: onDelete, onSuccess: () => onDeleted() });
  if (!asking)
    return (
      <button type="button" className="secondary outline compact" onClick={() => setAsking(true)}>
        Delete {what}…
      </button>
    );
  return (
    <div className="notice notice-warn" role="group" aria-label={`Delete ${what}`}>
      <p>
        <strong>Delete {what}?</strong> {consequence}
      </p>
      {children}
      <div className="inline-form">
        <button
          type="button"
          className="danger"
          aria-busy={remove.isPending}
          onClick={() => !remove.isPending && remove.mutate()}
        >
          Yes, delete {what}
        </button>
        <button type="button" className="secondary outline" onClick={() => setAsking(false)}>
          Cancel
        </button>
      </div>
      <ErrorNotice error={remove.error} title="Could not delete" />
    </div>
  );
}
