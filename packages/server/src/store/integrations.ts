import { randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import type { Database } from "../db/schema.js";
import type { SecretBox } from "../security/secret-box.js";
import { canSee, InvalidRequestError, LIST_LIMIT, NotFoundError, now, type Scope } from "./common.js";
import { getWorkspace } from "./workspaces.js";

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

export interface Integration {
  integration_id: string;
  workspace_id: string;
  name: string;
  integration_type: string;
  created_at: string;
  fields: Array<{ name: string; sensitivity: "SECRET" | "PUBLIC"; value?: string }>;
}

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
