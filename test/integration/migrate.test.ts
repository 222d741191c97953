import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { dropDatabase, ensureDatabase } from '../../src/db/admin.js';
import { listMigrations } from '../../src/db/migrate.js';

const run = promisify(execFile);
const stack = inject('stack');
const database = `rc_migrate_${randomBytes(6).toString('hex')}`;
const url = new URL(stack.adminUrl);
url.pathname = `/${database}`;

/** `npm run migrate` as its own OS process, from the sources. */
const migrateProcess = () =>
  run(process.execPath, ['--import', 'tsx', 'src/db/migrate-main.ts'], {
    env: { PATH: process.env.PATH, DATABASE_URL: url.href, LOG_LEVEL: 'info' },
  });

let sql: postgres.Sql;

beforeAll(async () => {
  await ensureDatabase(stack.adminUrl, database);
  sql = postgres(url.href, { max: 1, onnotice: () => {} });
});

afterAll(async () => {
  await sql?.end();
  await dropDatabase(stack.adminUrl, database);
});

describe('migrations', () => {
  it('two processes migrating one empty database at once leave one consistent schema', async () => {
    const results = await Promise.all([migrateProcess(), migrateProcess()]);

    const messages = results.map((r) => JSON.parse(r.stdout.trim().split('\n').at(-1)!).msg).sort();
    expect(messages).toEqual(['migrations applied', 'schema up to date']);

    const expected = await listMigrations();
    const applied = await sql<
      { version: number; name: string }[]
    >`select version, name from schema_migrations order by version`;
    expect(applied.map((m) => ({ version: m.version, name: m.name }))).toEqual(
      expected.map(({ version, name }) => ({ version, name })),
    );

    const tables = await sql<{ table_name: string }[]>`
      select table_name from information_schema.tables where table_schema = 'public' order by table_name`;
    expect(tables.map((t) => t.table_name)).toEqual([
      'audit_log',
      'code_repos',
      'encryption_keys',
      'projects',
      'rate_limit_buckets',
      'read_hosts',
      'reconciler_cursors',
      'schema_migrations',
      'service_keys',
      'webhook_deliveries',
    ]);
  });

  it('a later run finds nothing to do', async () => {
    const { stdout } = await migrateProcess();
    expect(JSON.parse(stdout.trim()).msg).toBe('schema up to date');
  });

  it('refuses a database whose recorded migrations carry other names than the files (renumbered), naming both', async () => {
    const [ninth] = await sql<{ name: string }[]>`select name from schema_migrations where version = 9`;
    await sql`update schema_migrations set name = 'sync_lease' where version = 9`;
    try {
      const failed = await migrateProcess().then(
        () => null,
        (err: { stdout: string; stderr: string }) => err.stdout + err.stderr,
      );
      expect(failed).toContain(`migration 9 was applied as sync_lease, but 0009 is now ${ninth!.name}`);
    } finally {
      await sql`update schema_migrations set name = ${ninth!.name} where version = 9`;
    }
    expect(JSON.parse((await migrateProcess()).stdout.trim()).msg).toBe('schema up to date');
  });
});
