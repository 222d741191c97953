import postgres from 'postgres';

export type Sql = postgres.Sql;
/** A `sql` that may be the pool or a transaction's scoped connection; query functions accept either. */
export type Queryable = postgres.Sql | postgres.TransactionSql;

export interface SqlOptions {
  max?: number;
  /** Name shown in pg_stat_activity, so an operator can tell the API from the worker. */
  applicationName?: string;
}

export function createSql(url: string, options: SqlOptions = {}): Sql {
  return postgres(url, {
    max: options.max ?? 10,
    onnotice: () => {},
    connect_timeout: 10,
    connection: { application_name: options.applicationName ?? 'repo-connector' },
  });
}

/** Cheap liveness probe used by readiness checks. */
export async function pingDatabase(sql: Sql): Promise<void> {
  await sql`select 1`;
}
