import type { Severity } from "@modelvet/schema";

/** A stored severity as the API sends it: 1, 2 or 3, or null (none yet, or a value no judgement makes). */
export function severityOf(value: number | null | undefined): Severity | null {
  const n = value == null ? null : Number(value);
  return n === 1 || n === 2 || n === 3 ? n : null;
}

/** Who is asking: an admin key sees every workspace, a workspace key only its own. */
export interface Scope {
  admin: boolean;
  workspaceId: string | null;
  keyId: string;
}

export function canSee(scope: Scope, workspaceId: string): boolean {
  return scope.admin || scope.workspaceId === workspaceId;
}

/** Thrown for any id the caller may not see or that does not exist: both answer 404, indistinguishably. */
export class NotFoundError extends Error {}

/** A request that is well-formed but not allowed (a workspace key creating a workspace). */
export class ForbiddenError extends Error {}

/** A request that conflicts with the stored state (e.g. an integration of another workspace). */
export class InvalidRequestError extends Error {}

/** A request the stored state does not allow now (deleting what is still in use or being scanned). */
export class ConflictError extends Error {}

/** Most rows a list call returns: every list is bounded (the API has no paging yet; see README). */
export const LIST_LIMIT = 1000;
/** Most file scans a model's history returns (each carries its full result). */
export const SCAN_LIST_LIMIT = 100;

let last = 0;
/** ISO 8601 now, strictly increasing within the process so "newest first" has no ties between quick calls. */
export function now(): string {
  last = Math.max(Date.now(), last + 1);
  return new Date(last).toISOString();
}

export function toNumber(value: number | string | null | undefined): number {
  return value === null || value === undefined ? 0 : Number(value);
}
