import type postgres from 'postgres';
import type { AuditContext } from '../shared/audit-context.js';
import { RepoError } from '../shared/errors.js';
import { insertAudit } from './audit.js';
import type { Sql } from './client.js';
import { applyStatusChange, InvalidTransitionError } from './repo-transitions.js';
import { lockRepoRow, REPO_COLUMNS, type CodeRepo } from './repos.js';

/** Locks the row; a disconnected repository is never worked on again (its token is gone for good). */
async function lockConnected(tx: postgres.TransactionSql, repoId: string): Promise<CodeRepo> {
  const row = await lockRepoRow(tx, repoId);
  if (!row) throw new InvalidTransitionError(repoId, null, 'CLONING');
  if (row.disconnectedAt) throw new RepoError('disconnected', 'The repository was disconnected');
  return row;
}

/**
 * Starts a clone attempt on `hostTaskQueue`: PENDING → CLONING, or, for an attempt after a
 * failed one (the activity retried, maybe on another host), the row's host and `updated_at`
 * brought up to date, so sweeps judge the attempt that is running now.
 */
export async function beginCloneAttempt(
  sql: Sql,
  o: { repoId: string; hostTaskQueue: string; attempt: number },
  audit: AuditContext,
): Promise<CodeRepo> {
  return sql.begin(async (tx) => {
    const current = await lockConnected(tx, o.repoId);
    const metadata = { attempt: o.attempt, host_task_queue: o.hostTaskQueue };
    if (current.cloneStatus !== 'CLONING') {
      return applyStatusChange(
        tx,
        { repoId: o.repoId, to: 'CLONING', sandboxPath: null, hostTaskQueue: o.hostTaskQueue, metadata },
        audit,
      );
    }
    const [updated] = await tx<CodeRepo[]>`
      update code_repos set host_task_queue = ${o.hostTaskQueue}, updated_at = now() where id = ${o.repoId}
      returning ${tx(REPO_COLUMNS)}`;
    await insertAudit(tx, {
      ...audit,
      repoId: o.repoId,
      action: 'repo.clone_attempt',
      fromState: 'CLONING',
      toState: null,
      metadata,
    });
    return updated!;
  });
}

/** CLEANING, unless it is already being (or has been) cleaned: safe to run twice, and at once. */
export async function beginCleaning(
  sql: Sql,
  repoId: string,
  metadata: Record<string, unknown>,
  audit: AuditContext,
): Promise<CodeRepo | undefined> {
  return sql.begin(async (tx) => {
    const row = await lockRepoRow(tx, repoId);
    if (!row) return undefined;
    if (row.cloneStatus === 'CLEANING' || row.cloneStatus === 'CLEANED') return row;
    return applyStatusChange(tx, { repoId, to: 'CLEANING', metadata }, audit);
  });
}

/**
 * Runs `work` holding the row's lock (or with no row at all), so that what it decides from the
 * row (a sweep removing files no live row owns) cannot race a clone starting on it.
 */
export async function withRepoLocked<T>(
  sql: Sql,
  repoId: string,
  work: (row: CodeRepo | undefined, tx: postgres.TransactionSql) => Promise<T>,
): Promise<T> {
  return sql.begin(async (tx) => work(await lockRepoRow(tx, repoId), tx)) as Promise<T>;
}

export interface RetryChange {
  repoId: string;
  /** A new token's ciphertext, when the retry brought one. */
  tokenCiphertext?: Buffer;
  tokenKid?: string;
}

/** FAILED → PENDING for a retry, clearing the error and optionally replacing the token, with its audit row. */
export async function resetRepoForRetry(sql: Sql, change: RetryChange, audit: AuditContext): Promise<CodeRepo> {
  return sql.begin(async (tx) => {
    await lockConnected(tx, change.repoId);
    if (change.tokenCiphertext && change.tokenKid) {
      await tx`update code_repos set token_ciphertext = ${change.tokenCiphertext}, token_kid = ${change.tokenKid}
               where id = ${change.repoId} and clone_status = 'FAILED' and disconnected_at is null`;
    }
    return applyStatusChange(
      tx,
      {
        repoId: change.repoId,
        to: 'PENDING',
        errorCode: null,
        errorMessage: null,
        metadata: { new_token: Boolean(change.tokenCiphertext) },
      },
      audit,
    );
  });
}

/**
 * Ends a connection's hold on its secrets: the token's and the webhook secret's ciphertexts and
 * wrapped keys are erased (nothing can decrypt them again) and `disconnected_at` is set, with an audit row, once. Repeating it
 * returns the row as it is.
 */
export async function disconnectRepo(sql: Sql, repoId: string, audit: AuditContext): Promise<CodeRepo> {
  return sql.begin(async (tx) => {
    const [row] = await tx<CodeRepo[]>`
      update code_repos set token_ciphertext = null, token_kid = null, webhook_secret_ciphertext = null, webhook_secret_kid = null,
        disconnected_at = now(), updated_at = now()
      where id = ${repoId} and disconnected_at is null
      returning ${tx(REPO_COLUMNS)}`;
    if (!row) {
      const [existing] = await tx<CodeRepo[]>`select ${tx(REPO_COLUMNS)} from code_repos where id = ${repoId}`;
      return existing!;
    }
    await insertAudit(tx, {
      ...audit,
      repoId,
      action: 'repo.disconnected',
      fromState: null,
      toState: null,
      metadata: { clone_status: row.cloneStatus },
    });
    return row;
  });
}
