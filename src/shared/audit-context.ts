/** Who caused a change and why; written to `audit_log` beside every state change. */
export interface AuditContext {
  correlationId: string;
  requestId: string;
  userId: string;
}
