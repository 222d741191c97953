import { Context } from '@temporalio/activity';
import { deleteExpiredAudit } from '../db/audit.js';
import { expireDeliveries } from '../db/webhook-deliveries.js';
import type { ActivityDeps } from './deps.js';

/** Batches one run deletes at most per table: the run stays bounded; what is left goes in the next runs. */
export const MAX_BATCHES_PER_RUN = 200;

export interface Deleted {
  rows: number;
  batches: number;
}

export interface RetentionResult {
  auditLog: Deleted;
  webhookDeliveries: Deleted;
}

/** Deleting what is past its retention is the same whenever it runs: a second run deletes what the first left, if anything. */
export function createRetentionActivities({ sql, logger, settings }: ActivityDeps) {
  const { auditDays, webhookDeliveryDays, batchSize } = settings.retention;

  /** Batch after batch (each its own statement), with a heartbeat after each, until one comes back short. */
  async function inBatches(deleteBatch: () => Promise<number>): Promise<Deleted> {
    const ctx = Context.current();
    const deleted: Deleted = { rows: 0, batches: 0 };
    while (deleted.batches < MAX_BATCHES_PER_RUN) {
      if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason;
      const rows = await deleteBatch();
      deleted.rows += rows;
      deleted.batches += 1;
      ctx.heartbeat(deleted);
      if (rows < batchSize) break;
    }
    return deleted;
  }

  return {
    /** Audit rows older than AUDIT_RETENTION_DAYS and webhook deliveries older than WEBHOOK_DELIVERY_RETENTION_DAYS. */
    async deleteExpiredRecords(): Promise<RetentionResult> {
      const auditLog = await inBatches(() => deleteExpiredAudit(sql, auditDays, batchSize));
      const webhookDeliveries = await inBatches(() => expireDeliveries(sql, webhookDeliveryDays, batchSize));
      if (auditLog.rows + webhookDeliveries.rows > 0)
        logger.info({ auditLog, webhookDeliveries }, 'deleted records past their retention');
      return { auditLog, webhookDeliveries };
    },
  };
}
