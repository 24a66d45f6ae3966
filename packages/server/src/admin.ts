import { existsSync } from "node:fs";
import { join } from "node:path";
import { StartupError, type ServiceConfig } from "./config.js";
import { openDb } from "./db/connect.js";
import { rotateAdminKeys } from "./store/workspaces.js";

/** `modelvet admin rotate-key`: opens the store directly (SQLite in the data directory, or DATABASE_URL). */
export async function rotateAdminKey(config: ServiceConfig): Promise<{ apiKey: string; revoked: number }> {
  if (!config.databaseUrl && !existsSync(join(config.dataDir, "modelvet.sqlite")))
    throw new StartupError(`no modelvet data in ${config.dataDir}: give the --data-dir that \`modelvet serve\` uses`);
  const db = await openDb(config);
  try {
    const { created, revoked } = await rotateAdminKeys(db.kysely);
    return { apiKey: created.api_key, revoked };
  } finally {
    await db.close();
  }
}
