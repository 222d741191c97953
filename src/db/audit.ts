import type { CloneStatus } from '../shared/repo-status.js';
import type { AuditContext } from '../shared/audit-context.js';
import { currentTraceId } from '../observability/trace-context.js';
import type { Queryable } from './client.js';

export type { AuditContext };

export interface AuditEntry extends Omit<AuditContext, 'requestId'> {
  /** Null for work no request caused (key rotation, sweeps). */
  requestId: string | null;
  repoId: string | null;
  action: string;
  fromState: CloneStatus | null;
  toState: CloneStatus | null;
  metadata?: Record<string, unknown>;
}

/**
 * Writes an audit row. With `executionKey` (e.g. the activity that writes it) the row is written once
 * per key: a retried activity whose first attempt committed leaves one row, not two. With
 * `quietSeconds`, not while the repository has the same action with the same metadata that recent:
 * a repeated non-event (an ignored signal) is on the record once per window, not once per call.
 */
export async function insertAudit(
  sql: Queryable,
  e: AuditEntry,
  executionKey?: string,
  o: { quietSeconds?: number } = {},
): Promise<void> {
  const metadata = executionKey === undefined ? (e.metadata ?? {}) : { ...e.metadata, once: executionKey };
  const conditions = [
    ...(executionKey === undefined
      ? []
      : [
          sql`not exists (select 1 from audit_log where request_id = ${e.requestId} and metadata->>'once' = ${executionKey})`,
        ]),
    ...(o.quietSeconds === undefined || e.repoId === null
      ? []
      : [
          sql`not exists (select 1 from audit_log
      where repo_id = ${e.repoId} and action = ${e.action} and metadata @> ${sql.json((e.metadata ?? {}) as never)}
        and created_at > now() - make_interval(secs => ${o.quietSeconds}))`,
        ]),
  ];
  await sql`
    insert into audit_log (correlation_id, request_id, repo_id, action, from_state, to_state, user_id, metadata, trace_id)
    select ${e.correlationId}, ${e.requestId}, ${e.repoId}, ${e.action}, ${e.fromState}, ${e.toState}, ${e.userId}, ${sql.json(metadata as never)}, ${currentTraceId() ?? null}
    ${conditions.length === 0 ? sql`` : sql`where ${conditions.reduce((all, c) => sql`${all} and ${c}`)}`}`;
}

/** Deletes up to `limit` audit rows older than `days`, oldest first: one bounded batch of the retention walk. */
export async function deleteExpiredAudit(sql: Queryable, days: number, limit: number): Promise<number> {
  const deleted = await sql`
    delete from audit_log where id in (
      select id from audit_log where created_at < now() - make_interval(days => ${days}) order by created_at limit ${limit})`;
  return deleted.count;
}
