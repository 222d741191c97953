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
 * Writes an audit row. With `onceKey` (e.g. the activity that writes it) the row is written once
 * per key: a retried activity whose first attempt committed leaves one row, not two.
 */
export async function insertAudit(sql: Queryable, e: AuditEntry, onceKey?: string): Promise<void> {
  const metadata = onceKey === undefined ? (e.metadata ?? {}) : { ...e.metadata, once: onceKey };
  await sql`
    insert into audit_log (correlation_id, request_id, repo_id, action, from_state, to_state, user_id, metadata, trace_id)
    select ${e.correlationId}, ${e.requestId}, ${e.repoId}, ${e.action}, ${e.fromState}, ${e.toState}, ${e.userId}, ${sql.json(metadata as never)}, ${currentTraceId() ?? null}
    ${onceKey === undefined ? sql`` : sql`where not exists (select 1 from audit_log where request_id = ${e.requestId} and metadata->>'once' = ${onceKey})`}`;
}
