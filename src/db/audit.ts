import type { CloneStatus } from '../shared/repo-status.js';
import type { AuditContext } from '../shared/audit-context.js';
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

export async function insertAudit(sql: Queryable, e: AuditEntry): Promise<void> {
  await sql`
    insert into audit_log (correlation_id, request_id, repo_id, action, from_state, to_state, user_id, metadata)
    values (${e.correlationId}, ${e.requestId}, ${e.repoId}, ${e.action}, ${e.fromState}, ${e.toState},
            ${e.userId}, ${sql.json((e.metadata ?? {}) as never)})`;
}
