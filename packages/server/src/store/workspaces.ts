import { randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import type { Database } from "../db/schema.js";
import { apiKeyMatches, generateApiKey, hashApiKey } from "../security/api-keys.js";
import { canSee, ForbiddenError, LIST_LIMIT, NotFoundError, now, type Scope } from "./common.js";
import type { CreatedApiKey, Workspace as ApiWorkspace } from "@modelvet/schema";

/** A workspace as the API sends it (@modelvet/schema). */
export type Workspace = ApiWorkspace;

export async function createWorkspace(db: Kysely<Database>, scope: Scope, name: string): Promise<Workspace> {
  if (!scope.admin) throw new ForbiddenError("only an admin API key can create workspaces");
  const row = { id: randomUUID(), name, created_at: now() };
  await db.insertInto("workspaces").values(row).execute();
  return { workspace_id: row.id, name, created_at: row.created_at };
}

export async function listWorkspaces(db: Kysely<Database>, scope: Scope): Promise<Workspace[]> {
  let query = db.selectFrom("workspaces").selectAll().orderBy("created_at").limit(LIST_LIMIT);
  if (!scope.admin) query = query.where("id", "=", scope.workspaceId ?? "");
  return (await query.execute()).map((r) => ({ workspace_id: r.id, name: r.name, created_at: r.created_at }));
}

/** The workspace, or NotFoundError when it does not exist or the key may not see it. */
export async function getWorkspace(db: Kysely<Database>, scope: Scope, id: string): Promise<Workspace> {
  const row = await db.selectFrom("workspaces").selectAll().where("id", "=", id).executeTakeFirst();
  if (!row || !canSee(scope, row.id)) throw new NotFoundError(`workspace ${id} not found`);
  return { workspace_id: row.id, name: row.name, created_at: row.created_at };
}

/** How much of a key a list shows: "mv_" and 7 characters, enough to tell keys apart, far too few to guess. */
export const KEY_PREFIX_LENGTH = 10;

/** A new key as the API sends it (@modelvet/schema). */
export type CreatedKey = CreatedApiKey;

/** A new key for a workspace (or an admin key when workspaceId is null); `key` is given only at bootstrap. */
export async function createApiKey(
  db: Kysely<Database>,
  workspaceId: string | null,
  name: string,
  key: string = generateApiKey(),
): Promise<CreatedKey> {
  const id = randomUUID();
  await db
    .insertInto("api_keys")
    .values({
      id,
      workspace_id: workspaceId,
      name,
      key_hash: hashApiKey(key),
      prefix: key.slice(0, KEY_PREFIX_LENGTH),
      created_at: now(),
    })
    .execute();
  return { key_id: id, name, api_key: key };
}

/** The scope of a presented key, or undefined for an unknown key. */
export async function authenticate(db: Kysely<Database>, key: string): Promise<Scope | undefined> {
  const row = await db.selectFrom("api_keys").selectAll().where("key_hash", "=", hashApiKey(key)).executeTakeFirst();
  // The lookup is by hash (an index), and the final check compares the hashes in constant time.
  if (!row || !apiKeyMatches(key, row.key_hash)) return undefined;
  return { admin: row.workspace_id === null, workspaceId: row.workspace_id, keyId: row.id };
}

export async function countApiKeys(db: Kysely<Database>): Promise<number> {
  const row = await db
    .selectFrom("api_keys")
    .select((eb) => eb.fn.countAll().as("n"))
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}

/**
 * Replaces every admin key with one new generated key (returned for printing once): a lost or leaked admin key
 * is recovered by whoever can open the data directory or database, never over the API.
 */
export async function rotateAdminKeys(db: Kysely<Database>): Promise<{ created: CreatedKey; revoked: number }> {
  return db.transaction().execute(async (trx) => {
    const revoked = await trx.deleteFrom("api_keys").where("workspace_id", "is", null).executeTakeFirst();
    const created = await createApiKey(trx, null, "rotated admin");
    return { created, revoked: Number(revoked.numDeletedRows) };
  });
}
