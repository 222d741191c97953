import postgres from 'postgres';

export type Sql = postgres.Sql;
/** A `sql` that may be the pool or a transaction's scoped connection; query functions accept either. */
export type Queryable = postgres.Sql | postgres.TransactionSql;

export interface SqlOptions {
  max?: number;
  /** Name shown in pg_stat_activity, so an operator can tell the API from the worker. */
  applicationName?: string;
}

const NUMERIC_OID = 1700;

/** The one place a pool is made: every query module reads and writes through these options. */
export function createSql(url: string, options: SqlOptions = {}): Sql {
  return postgres(url, {
    max: options.max ?? 10,
    onnotice: () => {},
    connect_timeout: 10,
    connection: { application_name: options.applicationName ?? 'repo-connector' },
    // Column names only: rows read as camelCase, sql(...) identifiers written as snake_case; JSON values (audit metadata) keep their keys.
    transform: { column: { from: postgres.toCamel, to: postgres.fromCamel } },
    // NUMERIC columns are sizes in MB to two decimals (NUMERIC(10,2)): exact in a double, so read as numbers.
    types: { numeric: { to: NUMERIC_OID, from: [NUMERIC_OID], serialize: String, parse: Number } },
  });
}

/** Cheap liveness probe used by readiness checks. */
export async function pingDatabase(sql: Sql): Promise<void> {
  await sql`select 1`;
}

/**
 * Node's network errors and postgres.js's own for a connection that could not be made or that
 * the server closed. Not CONNECTION_ENDED / CONNECTION_DESTROYED: those mean our own pool was
 * ended (`sql.end()`), a bug of ours rather than an outage.
 */
const CONNECTION_ERRORS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'CONNECTION_CLOSED',
  'CONNECT_TIMEOUT',
]);

/**
 * Whether `err` says the database cannot be reached right now (down, restarting, refusing
 * connections), as opposed to a query that failed: SQLSTATE class 08 (connection exception),
 * 57P01–57P03 (shut down, or not yet accepting connections), 53300 (too many connections).
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'string') return false;
  return CONNECTION_ERRORS.has(code) || code.startsWith('08') || ['57P01', '57P02', '57P03', '53300'].includes(code);
}
