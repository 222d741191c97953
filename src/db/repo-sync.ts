import type { AuditContext } from '../shared/audit-context.js';
import { insertAudit } from './audit.js';
import type { Sql } from './client.js';
import { lockRepoRow, REPO_COLUMNS, type CodeRepo } from './repos.js';

export interface SyncOutcome {
  repoId: string;
  previousCommit: string | null;
  headCommit: string | null;
  repositorySizeMb: number;
  fileCount: number;
  metadata: Record<string, unknown>;
}

/**
 * A sync's result on a COMPLETED row: the commit now checked out, its size, `last_checked_at` now,
 * a previous sync's failure cleared. A new commit sets `synced_at` and writes the `repo.synced`
 * audit row; one already checked out counts in `up_to_date_syncs` instead (a row each would grow
 * the log by every scheduled sync), audited only when it clears a failure. Undefined when the row
 * is no longer COMPLETED (being cleaned): nothing is written then.
 */
export async function recordSync(sql: Sql, o: SyncOutcome, audit: AuditContext): Promise<CodeRepo | undefined> {
  return sql.begin(async (tx) => {
    const current = await lockRepoRow(tx, o.repoId);
    if (current?.cloneStatus !== 'COMPLETED') return undefined;
    const upToDate = o.headCommit === o.previousCommit;
    const [row] = await tx<CodeRepo[]>`
      update code_repos set head_commit = ${o.headCommit}, repository_size_mb = ${o.repositorySizeMb}, file_count = ${o.fileCount},
        synced_at = ${upToDate ? tx`synced_at` : tx`now()`}, up_to_date_syncs = up_to_date_syncs + ${upToDate ? 1 : 0}, last_checked_at = now(),
        error_code = null, error_message = null, attention_required_at = null, updated_at = now()
      where id = ${o.repoId}
      returning ${tx(REPO_COLUMNS)}`;
    if (!upToDate || current.errorCode !== null || current.attentionRequiredAt !== null) {
      await insertAudit(tx, {
        ...audit,
        repoId: o.repoId,
        action: 'repo.synced',
        fromState: null,
        toState: null,
        metadata: { ...o.metadata, previous_commit: o.previousCommit, head_commit: o.headCommit },
      });
    }
    return row!;
  });
}

/**
 * What a COMPLETED row shows in `error_code`: the repository outgrew the limit, the Git server
 * refused or failed, or the checkout could not be put back (git_failed). Failures of the service's
 * own (KMS, disk, internal) say nothing about the repository: they are in the audit log only.
 */
const SHOWN_ON_ROW = new Set([
  'repository_too_large',
  'upstream_unavailable',
  'rate_limited',
  'invalid_credentials',
  'repository_not_found',
  'ref_not_found',
  'git_failed',
]);

/**
 * A failed sync: the row stays COMPLETED (the previous checkout is kept and usable) and, for the
 * failures SHOWN_ON_ROW, carries it in `error_code`/`error_message` until a sync succeeds; always
 * with a `repo.sync_failed` audit row. With `needsAttention` (the workflow stopped syncing by
 * itself), the row says so whatever the failure was, from `attention_required_at`.
 */
export async function recordSyncFailure(
  sql: Sql,
  o: {
    repoId: string;
    errorCode: string;
    errorMessage: string;
    needsAttention?: boolean;
    metadata?: Record<string, unknown>;
  },
  audit: AuditContext,
  executionKey?: string,
): Promise<void> {
  await sql.begin(async (tx) => {
    const current = await lockRepoRow(tx, o.repoId);
    if (current?.cloneStatus !== 'COMPLETED') return;
    const shown = o.needsAttention || SHOWN_ON_ROW.has(o.errorCode);
    // updated_at always: the workflow keeps the clone for the TTL from this sync too, and the disk sweep's clock starts again with it.
    await tx`update code_repos set
        error_code = ${shown ? o.errorCode : tx`error_code`},
        error_message = ${shown ? o.errorMessage : tx`error_message`},
        attention_required_at = ${o.needsAttention ? tx`coalesce(attention_required_at, now())` : tx`attention_required_at`},
        updated_at = now()
      where id = ${o.repoId}`;
    await insertAudit(
      tx,
      {
        ...audit,
        repoId: o.repoId,
        action: 'repo.sync_failed',
        fromState: null,
        toState: null,
        metadata: { ...o.metadata, error_code: o.errorCode, ...(o.needsAttention ? { needs_attention: true } : {}) },
      },
      executionKey,
    );
  });
}

/**
 * The user answered a repository that needs attention (`retry`, perhaps with a new token): the
 * token replaced, the mark and the failure cleared, with a `repo.sync_resumed` audit row. Nothing
 * changes on a row that is no longer COMPLETED or was disconnected meanwhile.
 */
export async function resumeSyncs(
  sql: Sql,
  o: { repoId: string; tokenCiphertext?: Buffer; tokenKid?: string },
  audit: AuditContext,
  executionKey?: string,
): Promise<void> {
  await sql.begin(async (tx) => {
    const current = await lockRepoRow(tx, o.repoId);
    if (current?.cloneStatus !== 'COMPLETED' || current.disconnectedAt) return;
    if (o.tokenCiphertext && o.tokenKid) {
      await tx`update code_repos set token_ciphertext = ${o.tokenCiphertext}, token_kid = ${o.tokenKid} where id = ${o.repoId}`;
    }
    await tx`update code_repos set attention_required_at = null, error_code = null, error_message = null, updated_at = now() where id = ${o.repoId}`;
    await insertAudit(
      tx,
      {
        ...audit,
        repoId: o.repoId,
        action: 'repo.sync_resumed',
        fromState: null,
        toState: null,
        metadata: { new_token: Boolean(o.tokenCiphertext) },
      },
      executionKey,
    );
  });
}
