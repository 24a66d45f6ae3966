import { sql } from "kysely";
import { afterAll, describe, expect, test } from "vitest";
import { openDb, type Db } from "@modelvet/server";
import { MIGRATION_NAMES } from "../src/db/migrations.js";
import { createPgDatabase, removeDir, tempDir } from "./helpers.js";

/**
 * Migrations run in the order of their names. 005_webhooks first shipped as 006_webhooks: a database that
 * recorded the old name opens cleanly and ends up with the new one, nothing run twice, its rows kept; a database
 * that recorded a migration this release does not know is refused.
 */
const pgDb = await createPgDatabase();
const dirs: string[] = [];

afterAll(async () => {
  await pgDb?.drop();
  for (const dir of dirs) removeDir(dir);
});

async function recorded(db: Db): Promise<string[]> {
  const { rows } = await sql<{ name: string }>`select name from modelvet_migrations order by name`.execute(db.kysely);
  return rows.map((r) => r.name);
}

async function setRecorded(db: Db, from: string, to: string): Promise<void> {
  await sql`update modelvet_migrations set name = ${to} where name = ${from}`.execute(db.kysely);
}

test("the migration numbers leave no gap, so the next one is plainly the next number", () => {
  const numbers = [...new Set(MIGRATION_NAMES.map((name) => Number(/^(\d{3})_/.exec(name)?.[1])))];
  expect(numbers.every(Number.isInteger)).toBe(true);
  expect(numbers).toEqual(Array.from({ length: numbers.length }, (_, i) => i + 1));
});

const dialects = [
  { name: "SQLite", open: (dir: string) => openDb({ dataDir: dir }) },
  ...(pgDb ? [{ name: "PostgreSQL", open: (dir: string) => openDb({ dataDir: dir, databaseUrl: pgDb.url }) }] : []),
];

describe.each(dialects)("$name", ({ open }) => {
  const dir = tempDir();
  dirs.push(dir);

  test("a database migrated under the old name 006_webhooks upgrades cleanly and keeps its rows", async () => {
    const first = await open(dir);
    expect(await recorded(first)).toEqual(MIGRATION_NAMES);
    const at = new Date().toISOString();
    await first.kysely.insertInto("workspaces").values({ id: "ws-old", name: "old", created_at: at }).execute();
    // What the previous release recorded: the same schema change under its old name.
    await setRecorded(first, "005_webhooks", "006_webhooks");
    expect(await recorded(first)).toContain("006_webhooks");
    await first.close();

    const upgraded = await open(dir);
    expect(await recorded(upgraded)).toEqual(MIGRATION_NAMES);
    expect(await upgraded.kysely.selectFrom("workspaces").select("name").where("id", "=", "ws-old").execute()).toEqual([
      { name: "old" },
    ]);
    expect(await upgraded.kysely.selectFrom("webhooks").select("id").execute()).toEqual([]);
    await upgraded.close();

    // Opening again changes nothing.
    const again = await open(dir);
    expect(await recorded(again)).toEqual(MIGRATION_NAMES);
    await again.close();
  });

  test("a database that recorded a migration this release does not know is refused", async () => {
    const db = await open(dir);
    await sql`insert into modelvet_migrations (name, timestamp) values (${"099_from_a_newer_release"}, ${new Date().toISOString()})`.execute(
      db.kysely,
    );
    await db.close();
    await expect(open(dir)).rejects.toThrow(/099_from_a_newer_release/);
  });
});
