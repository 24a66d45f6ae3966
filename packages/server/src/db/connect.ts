import { mkdirSync } from "node:fs";
import { join } from "node:path";
import SQLite from "better-sqlite3";
import { Kysely, PostgresDialect, SqliteDialect } from "kysely";
import pg from "pg";
import type { Database } from "./schema.js";
import { migrate } from "./migrations.js";
import { StartupError } from "../config.js";

export type Dialect = "sqlite" | "postgres";

export interface Db {
  kysely: Kysely<Database>;
  dialect: Dialect;
  close(): Promise<void>;
}

/** PostgreSQL when a connection string is given, else a SQLite file in the data folder; migrated on open. */
export async function openDb(options: { dataDir: string; databaseUrl?: string }): Promise<Db> {
  const where = options.databaseUrl
    ? `PostgreSQL at ${redactPassword(options.databaseUrl)}`
    : `SQLite in ${options.dataDir}`;
  let db: Db | undefined;
  try {
    db = options.databaseUrl ? openPostgres(options.databaseUrl) : openSqlite(options.dataDir);
    await migrate(db.kysely as Kysely<unknown>);
    return db;
  } catch (e) {
    await db?.close().catch(() => undefined);
    throw new StartupError(`cannot open the database (${where}): ${(e as Error).message}`);
  }
}

function openSqlite(dataDir: string): Db {
  mkdirSync(dataDir, { recursive: true });
  const sqlite = new SQLite(join(dataDir, "modelvet.sqlite"));
  // WAL lets readers (status polls) run while a scan result is written; busy_timeout makes a second process
  // (a `modelvet worker` on the same data folder) wait for the write lock instead of failing.
  sqlite.pragma("journal_mode = WAL");
  sqlite.pragma("busy_timeout = 5000");
  sqlite.pragma("synchronous = NORMAL");
  sqlite.pragma("foreign_keys = ON");
  const kysely = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  return { kysely, dialect: "sqlite", close: () => kysely.destroy() };
}

function openPostgres(connectionString: string): Db {
  const pool = new pg.Pool({ connectionString, max: 10 });
  const kysely = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return { kysely, dialect: "postgres", close: () => kysely.destroy() };
}

/** The connection string without its password, for messages. */
function redactPassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.href;
  } catch {
    return "DATABASE_URL";
  }
}
