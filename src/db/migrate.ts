import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Sql } from './client.js';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));

/** Arbitrary but fixed: every process that migrates this database contends for the same lock. */
const MIGRATION_LOCK_KEY = 7_233_001;

const FILE_PATTERN = /^(\d{4})_([a-z0-9_]+)\.sql$/;

export interface Migration {
  version: number;
  name: string;
  file: string;
}

export async function listMigrations(dir: string = MIGRATIONS_DIR): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  const migrations = files.map((file) => {
    const match = FILE_PATTERN.exec(file);
    if (!match) throw new Error(`Migration file name ${file} does not match NNNN_name.sql`);
    return { version: Number(match[1]), name: match[2]!, file: path.join(dir, file) };
  });
  migrations.forEach((m, i) => {
    if (m.version !== i + 1)
      throw new Error(`Migration ${path.basename(m.file)} breaks the numbering (expected ${i + 1})`);
  });
  return migrations;
}

/**
 * Applies every pending migration in one transaction, holding a transaction-scoped advisory
 * lock: a second process starting at the same moment waits, then finds nothing left to do.
 * Returns the versions this call applied.
 */
export async function migrate(sql: Sql, dir: string = MIGRATIONS_DIR): Promise<number[]> {
  const migrations = await listMigrations(dir);
  return sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`;
    await tx`
      create table if not exists schema_migrations (
        version integer primary key,
        name text not null,
        applied_at timestamptz not null default now()
      )`;
    const rows = await tx<{ version: number; name: string }[]>`select version, name from schema_migrations`;
    const done = new Set(rows.map((r) => r.version));
    for (const row of rows) {
      const file = migrations.find((m) => m.version === row.version);
      // Renumbered files would be skipped as applied (or applied twice): nothing runs until a person reconciles them.
      if (file && file.name !== row.name) {
        throw new Error(
          `The database's migration ${row.version} was applied as ${row.name}, but ${String(file.version).padStart(4, '0')} is now ${file.name}: reconcile schema_migrations with the migrations folder before migrating`,
        );
      }
    }
    const applied: number[] = [];
    for (const m of migrations) {
      if (done.has(m.version)) continue;
      await tx.unsafe(await readFile(m.file, 'utf8'));
      await tx`insert into schema_migrations (version, name) values (${m.version}, ${m.name})`;
      applied.push(m.version);
    }
    return applied;
  });
}
