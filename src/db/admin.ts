import postgres from 'postgres';

/** Maintenance-database operations (creating and dropping whole databases), for set-up and tests. */
const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;

async function withAdmin<T>(adminUrl: string, work: (admin: postgres.Sql) => Promise<T>): Promise<T> {
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    return await work(admin);
  } finally {
    await admin.end();
  }
}

export function ensureDatabase(adminUrl: string, database: string): Promise<void> {
  return withAdmin(adminUrl, async (admin) => {
    const [exists] = await admin`select 1 from pg_database where datname = ${database}`;
    if (!exists) await admin.unsafe(`create database ${quoteIdent(database)}`);
  });
}

export function dropDatabase(adminUrl: string, database: string): Promise<void> {
  return withAdmin(adminUrl, async (admin) => {
    await admin.unsafe(`drop database if exists ${quoteIdent(database)} with (force)`);
  });
}
