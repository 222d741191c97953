import type { AuditContext } from '../shared/audit-context.js';
import { insertAudit } from '../db/audit.js';
import { resetRepoForRetry } from '../db/repo-lifecycle.js';
import { changeRepoStatus } from '../db/repo-transitions.js';
import { findRepo, insertRepo } from '../db/repos.js';
import { metrics } from '../observability/metrics.js';
import type { Admission } from '../shared/connect-repository.js';
import { firstAdmissionOf } from '../shared/first-admission.js';
import { outcomeOf } from '../shared/errors.js';
import type { ActivityDeps } from './deps.js';
import { executionKey } from './execution-key.js';
import { sealedFrom, type EncryptedToken, type EncryptedWebhookSecret } from '../shared/connect-repository.js';
import { ciphertextBytes } from '../crypto/sealed-secret.js';

export interface PersistRepositoryInput extends EncryptedToken {
  repoId: string;
  requestId: string;
  projectId: string;
  gitUrl: string;
  workflowId: string;
  runId: string;
  requestFingerprint: string;
  estimatedSizeMb: number | null;
  /** The branch or tag the size check resolved; optional. */
  ref?: string;
  /** How often the workflow syncs by itself; absent: on demand and on push only. */
  syncIntervalSeconds?: number;
  /** The push webhook secret encrypted for storage; optional. */
  webhookSecret?: EncryptedWebhookSecret;
  audit: AuditContext;
}

export interface MarkFailedInput {
  repoId: string;
  errorCode: string;
  errorMessage: string;
  audit: AuditContext;
}

export interface ResetForRetryInput {
  repoId: string;
  newToken?: EncryptedToken;
  audit: AuditContext;
}

export interface IgnoredSignalInput {
  repoId: string | null;
  signal: string;
  stage: string;
  audit: AuditContext;
}

/** A repeated ignored signal (a client calling sync on a failed repository in a loop) leaves one audit row per hour. */
const IGNORED_SIGNAL_QUIET_SECONDS = 3600;

export function createPersistActivities({ sql }: ActivityDeps) {
  return {
    /** Inserts the PENDING row; a retry returns the row the first attempt wrote. */
    async persistRepository(input: PersistRepositoryInput): Promise<Admission> {
      const repo = await insertRepo(
        sql,
        {
          id: input.repoId,
          projectId: input.projectId,
          gitUrl: input.gitUrl,
          tokenCiphertext: ciphertextBytes(sealedFrom('token', input)),
          tokenKid: input.tokenKid,
          requestId: input.requestId,
          workflowId: input.workflowId,
          runId: input.runId,
          estimatedSizeMb: input.estimatedSizeMb,
          requestFingerprint: input.requestFingerprint,
          ref: input.ref ?? null,
          syncIntervalSeconds: input.syncIntervalSeconds ?? null,
          ...(input.webhookSecret
            ? {
                webhookSecretCiphertext: ciphertextBytes(sealedFrom('webhookSecret', input.webhookSecret)),
                webhookSecretKid: input.webhookSecret.webhookSecretKid,
              }
            : {}),
        },
        input.audit,
      );
      return firstAdmissionOf(repo);
    },

    async markRepositoryFailed(input: MarkFailedInput): Promise<void> {
      const before = await findRepo(sql, input.repoId);
      await changeRepoStatus(
        sql,
        {
          repoId: input.repoId,
          to: 'FAILED',
          sandboxPath: null,
          errorCode: input.errorCode,
          errorMessage: input.errorMessage,
          metadata: { error_code: input.errorCode },
        },
        input.audit,
      );
      // Once per failure: a retry of this activity after its change committed finds the row FAILED already.
      if (before?.cloneStatus !== 'FAILED')
        metrics.clonesFailed.inc({ error_code: outcomeOf({ code: input.errorCode }) });
    },

    async resetRepositoryForRetry(input: ResetForRetryInput): Promise<void> {
      await resetRepoForRetry(
        sql,
        {
          repoId: input.repoId,
          ...(input.newToken
            ? {
                tokenCiphertext: ciphertextBytes(sealedFrom('token', input.newToken)),
                tokenKid: input.newToken.tokenKid,
              }
            : {}),
        },
        input.audit,
      );
    },

    /** A signal that made no sense in the workflow's state: ignored, but on the record (once an hour per signal and stage). */
    async recordIgnoredSignal(input: IgnoredSignalInput): Promise<void> {
      await insertAudit(
        sql,
        {
          ...input.audit,
          repoId: input.repoId,
          action: `signal.${input.signal}.ignored`,
          fromState: null,
          toState: null,
          metadata: { stage: input.stage },
        },
        executionKey(),
        { quietSeconds: IGNORED_SIGNAL_QUIET_SECONDS },
      );
    },
  };
}
