import { randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import type { Database } from "../db/schema.js";
import type { SecretBox } from "../security/secret-box.js";
import { canSee, ConflictError, InvalidRequestError, LIST_LIMIT, NotFoundError, now, type Scope } from "./common.js";
import { getWorkspace } from "./workspaces.js";
import type { Integration as ApiIntegration } from "@modelvet/schema";

export interface FieldInput {
  name: string;
  sensitivity: "SECRET" | "PUBLIC";
  value: string;
}

/** What is stored per field: PUBLIC values in clear, SECRET values only encrypted. */
interface StoredField {
  name: string;
  sensitivity: "SECRET" | "PUBLIC";
  value?: string;
  sealed?: string;
}

/** An integration as the API sends it (@modelvet/schema): SECRET values never included. */
export type Integration = ApiIntegration;

/** The Hub token fields, in order of preference. */
const TOKEN_FIELDS = ["HUGGINGFACE_API_TOKEN", "HF_TOKEN"];

const aad = (integrationId: string): string => `integration:${integrationId}`;

function toIntegration(row: Database["integrations"]): Integration {
  const stored = JSON.parse(row.fields) as StoredField[];
  return {
    integration_id: row.id,
    workspace_id: row.workspace_id,
    name: row.name,
    integration_type: row.integration_type,
    created_at: row.created_at,
    // Built field by field so a SECRET's ciphertext or value can never slip into an answer.
    fields: stored.map((f) =>
      f.sensitivity === "PUBLIC"
        ? { name: f.name, sensitivity: f.sensitivity, value: f.value ?? "" }
        : { name: f.name, sensitivity: f.sensitivity },
    ),
  };
}

export async function createIntegration(
  db: Kysely<Database>,
  box: SecretBox,
  scope: Scope,
  workspaceId: string,
  input: { name: string; integration_type: string; integration_schema: FieldInput[] },
): Promise<Integration> {
  await getWorkspace(db, scope, workspaceId);
  const names = new Set(input.integration_schema.map((f) => f.name));
  if (names.size !== input.integration_schema.length)
    throw new InvalidRequestError("integration_schema names each field once; a name appears twice");
  const id = randomUUID();
  const fields: StoredField[] = input.integration_schema.map((f) =>
    f.sensitivity === "SECRET"
      ? { name: f.name, sensitivity: f.sensitivity, sealed: box.encrypt(f.value, aad(id)) }
      : { name: f.name, sensitivity: f.sensitivity, value: f.value },
  );
  const row = {
    id,
    workspace_id: workspaceId,
    name: input.name,
    integration_type: input.integration_type,
    fields: JSON.stringify(fields),
    created_at: now(),
  };
  await db.insertInto("integrations").values(row).execute();
  return toIntegration(row);
}

export async function listIntegrations(
  db: Kysely<Database>,
  scope: Scope,
  workspaceId: string,
): Promise<Integration[]> {
  await getWorkspace(db, scope, workspaceId);
  const rows = await db
    .selectFrom("integrations")
    .selectAll()
    .where("workspace_id", "=", workspaceId)
    .orderBy("created_at")
    .limit(LIST_LIMIT)
    .execute();
  return rows.map(toIntegration);
}

/** The integration row if the caller may use it (same workspace as the model it is attached to). */
export async function requireIntegration(
  db: Kysely<Database>,
  scope: Scope,
  id: string,
  workspaceId: string,
): Promise<void> {
  const row = await db.selectFrom("integrations").select(["workspace_id"]).where("id", "=", id).executeTakeFirst();
  if (!row || !canSee(scope, row.workspace_id)) throw new NotFoundError(`integration ${id} not found`);
  if (row.workspace_id !== workspaceId)
    throw new InvalidRequestError(`integration ${id} belongs to another workspace than the project`);
}

/** The Hub token an integration holds (decrypted for a scan; never returned or logged). */
export async function hubTokenOf(
  db: Kysely<Database>,
  box: SecretBox,
  id: string,
): Promise<{ field: string; token: string } | undefined> {
  const row = await db.selectFrom("integrations").select(["fields"]).where("id", "=", id).executeTakeFirst();
  if (!row) return undefined;
  const fields = JSON.parse(row.fields) as StoredField[];
  for (const name of TOKEN_FIELDS) {
    const field = fields.find((f) => f.name === name);
    if (!field) continue;
    const token = field.sealed !== undefined ? box.decrypt(field.sealed, aad(id)) : field.value;
    if (token !== undefined) return { field: name, token };
  }
  return undefined;
}

/**
 * Renames an integration and/or replaces its fields. Fields are replaced as a whole list; a SECRET field sent
 * without a value keeps its stored (sealed) value, so a client can rename or add fields without ever
 * reading — or having to resend — a secret it cannot see.
 */
export async function updateIntegration(
  db: Kysely<Database>,
  box: SecretBox,
  scope: Scope,
  id: string,
  input: {
    name?: string | undefined;
    integration_schema?: Array<Omit<FieldInput, "value"> & { value?: string | undefined }> | undefined;
  },
): Promise<Integration> {
  const row = await getIntegrationRow(db, scope, id);
  let fields = row.fields;
  if (input.integration_schema) {
    const stored = new Map((JSON.parse(row.fields) as StoredField[]).map((f) => [f.name, f]));
    const names = new Set(input.integration_schema.map((f) => f.name));
    if (names.size !== input.integration_schema.length)
      throw new InvalidRequestError("integration_schema names each field once; a name appears twice");
    const next = input.integration_schema.map((f): StoredField => {
      const old = stored.get(f.name);
      if (f.value === undefined) {
        if (!old || old.sensitivity !== f.sensitivity)
          throw new InvalidRequestError(
            `field "${f.name}" needs a value: there is no stored ${f.sensitivity} value to keep`,
          );
        return old;
      }
      return f.sensitivity === "SECRET"
        ? { name: f.name, sensitivity: f.sensitivity, sealed: box.encrypt(f.value, aad(id)) }
        : { name: f.name, sensitivity: f.sensitivity, value: f.value };
    });
    fields = JSON.stringify(next);
  }
  const name = input.name ?? row.name;
  await db.updateTable("integrations").set({ name, fields }).where("id", "=", id).execute();
  return toIntegration({ ...row, name, fields });
}

async function getIntegrationRow(db: Kysely<Database>, scope: Scope, id: string): Promise<Database["integrations"]> {
  const row = await db.selectFrom("integrations").selectAll().where("id", "=", id).executeTakeFirst();
  if (!row || !canSee(scope, row.workspace_id)) throw new NotFoundError(`integration ${id} not found`);
  return row;
}

/** Deletes an integration no model uses (a model's scans would lose their token silently otherwise). */
export async function deleteIntegration(db: Kysely<Database>, scope: Scope, id: string): Promise<void> {
  await getIntegrationRow(db, scope, id);
  const users = await db
    .selectFrom("models")
    .select(["name"])
    .where("integration_id", "=", id)
    .where("deleted_at", "is", null)
    .limit(5)
    .execute();
  if (users.length > 0)
    throw new ConflictError(
      `integration ${id} is used by model(s) ${users.map((u) => `"${u.name}"`).join(", ")}; detach or delete them first`,
    );
  // Hidden (deleted) models keep no reference to it.
  await db.updateTable("models").set({ integration_id: null }).where("integration_id", "=", id).execute();
  await db.deleteFrom("integrations").where("id", "=", id).execute();
}
