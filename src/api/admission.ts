import { createHash } from 'node:crypto';
import {
  WithStartWorkflowOperation,
  WorkflowExecutionAlreadyStartedError,
  WorkflowUpdateFailedError,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { Logger } from '../config/logger.js';
import { sealedFromBytes } from '../crypto/sealed-secret.js';
import { openSealed, sealForTransport } from '../crypto/transport.js';
import { newWebhookSecret, openWebhookSecret } from '../crypto/webhook-secret.js';
import { findRepoByWorkflowId, type CodeRepo } from '../db/repos.js';
import { metrics } from '../observability/metrics.js';
import {
  admissionUpdate,
  fingerprintOf,
  type Admission,
  type ConnectRepositoryInput,
  type SealedSecret,
} from '../shared/connect-repository.js';
import { isRepoErrorCode, REPO_ERRORS } from '../shared/errors.js';
import { firstAdmissionOf } from '../shared/first-admission.js';
import type { connectRepository } from '../workflows/connect-repository.js';
import type { ApiDeps } from './deps.js';
import { ApiError } from './errors.js';
import { loadFingerprintKey, requestFingerprintOf } from './request-fingerprint.js';

/**
 * A user's request: the key scoped by a digest of the user, so the same key from two users makes
 * two requests, and neither can learn that the other's exists.
 */
export const workflowIdFor = (userId: string, requestId: string): string =>
  `connect-repository-${createHash('sha256').update(userId).digest('hex').slice(0, 16)}-${requestId}`;

/** Details a caller may see (the design's 413 body, and which budget it passed); anything else stays internal. */
const PUBLIC_DETAILS = ['estimated_size_mb', 'limit_mb', 'budget', 'measured', 'limit'];
const pick = (from: Record<string, unknown> | undefined, keys: string[]) =>
  Object.fromEntries(Object.entries(from ?? {}).filter(([k]) => keys.includes(k)));

/** A workflow's refusal (of an admission or a retry), as the API error the design's table gives for it. */
export function rejectionError(err: WorkflowUpdateFailedError): ApiError {
  const cause = err.cause;
  if (cause instanceof ApplicationFailure && isRepoErrorCode(cause.type)) {
    const [details] = (cause.details ?? []) as Array<Record<string, unknown> | undefined>;
    return new ApiError(REPO_ERRORS[cause.type].status, cause.type, cause.message, pick(details, PUBLIC_DETAILS));
  }
  return new ApiError(500, 'internal_error', 'The repository could not be connected');
}

export interface ConnectRequest {
  userId: string;
  /** The HTTP request's id: the workflow's correlation id. */
  correlationId: string;
  /** The idempotency key. */
  requestId: string;
  projectId: string;
  gitUrl: string;
  accessToken: string;
  /** The branch or tag asked for; absent: the remote's default branch. */
  ref?: string;
  /** Sync by itself this often; absent: on demand and on push only. */
  syncIntervalSeconds?: number;
}

export type AdmissionOutcome =
  | {
      admission: Admission;
      workflowId: string;
      /** True when this is the first answer again, for a repeated request. */
      replayed: boolean;
      /** The repository's push webhook secret, in plain for the answer; absent for rows from before webhooks. */
      webhookSecret?: string;
    }
  | {
      /** Not answered within ADMISSION_WAIT_SECONDS: the same request, sent again, gets the outcome. */
      pending: true;
      workflowId: string;
    };

const reusedKey = () =>
  new ApiError(409, 'idempotency_key_reused', 'This request_id was already used with different parameters');

/**
 * Admission of a connect request, as clients of idempotent APIs expect (the IETF
 * Idempotency-Key draft, Stripe): the same key with the same parameters gets the first answer
 * again, whatever has happened since; a key whose request was rejected left nothing behind and
 * is evaluated afresh; the same key with other parameters (another token included) is refused.
 */
export function createAdmission({
  sql,
  temporal,
  keys,
  settings,
}: Pick<ApiDeps, 'sql' | 'temporal' | 'keys' | 'settings'>) {
  /** Secrets leave the API only sealed: Temporal's history and its codec endpoint never see them. */
  const seal = (accessToken: string, requestId: string): Promise<SealedSecret> =>
    sealForTransport(keys, accessToken, requestId, 'access-token');
  /** The repository's webhook secret as its row keeps it (the fingerprint has proved the same user and token). */
  const storedWebhookSecret = (repo: CodeRepo): Promise<string | undefined> =>
    repo.webhookSecretCiphertext && repo.webhookSecretKid
      ? openWebhookSecret(keys, sealedFromBytes(repo.webhookSecretCiphertext, repo.webhookSecretKid), repo.id)
      : Promise.resolve(undefined);

  /** Admissions under way in this process, by request (workflow id and fingerprint). */
  const inFlight = new Map<string, Promise<AdmissionOutcome>>();
  // Loaded on first use and kept; a failure (database or key service down) is tried again next time.
  let fingerprintKey: Promise<Buffer> | undefined;
  const fingerprintKeyOnce = () =>
    (fingerprintKey ??= loadFingerprintKey(sql, keys).catch((err: unknown) => {
      fingerprintKey = undefined;
      throw err;
    }));

  return {
    seal,
    async admit(req: ConnectRequest, log: Logger): Promise<AdmissionOutcome> {
      const workflowId = workflowIdFor(req.userId, req.requestId);
      const requestFingerprint = requestFingerprintOf(await fingerprintKeyOnce(), { ...req, workflowId });
      const replay = async (repo: CodeRepo): Promise<AdmissionOutcome> => {
        if (repo.requestFingerprint !== requestFingerprint) throw reusedKey();
        const webhookSecret = await storedWebhookSecret(repo);
        return {
          admission: firstAdmissionOf(repo),
          workflowId,
          replayed: true,
          ...(webhookSecret ? { webhookSecret } : {}),
        };
      };
      const existing = await findRepoByWorkflowId(sql, workflowId);
      if (existing) return replay(existing);

      // The same request already on its way through this process: one admission serves them all.
      const key = `${workflowId} ${requestFingerprint}`;
      const leader = inFlight.get(key);
      if (leader) {
        const outcome = await leader;
        return 'pending' in outcome ? outcome : { ...outcome, replayed: true };
      }
      const started = startAdmission(req, log, workflowId, requestFingerprint, replay).finally(() =>
        inFlight.delete(key),
      );
      inFlight.set(key, started);
      return started;
    },
  };

  async function startAdmission(
    req: ConnectRequest,
    log: Logger,
    workflowId: string,
    requestFingerprint: string,
    replay: (repo: CodeRepo) => Promise<AdmissionOutcome>,
  ): Promise<AdmissionOutcome> {
    const webhookSecret = newWebhookSecret();
    const sealedWebhookSecret = await sealForTransport(keys, webhookSecret, req.requestId, 'webhook-secret');
    const input: ConnectRepositoryInput = {
      requestId: req.requestId,
      correlationId: req.correlationId,
      userId: req.userId,
      projectId: req.projectId,
      gitUrl: req.gitUrl,
      sealedToken: await seal(req.accessToken, req.requestId),
      sandboxTtlSeconds: settings.sandboxTtlSeconds,
      requestFingerprint,
      sealedWebhookSecret,
      ...(req.ref === undefined ? {} : { ref: req.ref }),
      ...(req.syncIntervalSeconds === undefined ? {} : { syncIntervalSeconds: req.syncIntervalSeconds }),
      syncFailureLimit: settings.sync.failureLimit,
      syncsPerRun: settings.sync.syncsPerRun,
    };
    const start = new WithStartWorkflowOperation<typeof connectRepository>('connectRepository', {
      workflowId,
      taskQueue: settings.taskQueue,
      args: [input],
      workflowIdConflictPolicy: 'USE_EXISTING',
      // A rejected request ended its run as failed and left nothing behind: the key may be used again.
      // A run that admitted its request has a row, and is answered from it above.
      workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
    });
    const waited = new AbortController();
    const timer = setTimeout(() => waited.abort(), settings.admissionWaitSeconds * 1000);
    try {
      const admitted = temporal.connection.withAbortSignal(waited.signal, () =>
        temporal.workflow.executeUpdateWithStart(admissionUpdate, {
          args: [fingerprintOf(input)],
          startWorkflowOperation: start,
        }),
      );
      // The wait bounds the answer even when the client does not give up at the abort. Each repeat of a pending
      // request adds an update to its run (an id of its own: a fixed one would be answered, after a rejection,
      // with that rejection again); past the most a run holds (10 in flight) the client keeps retrying, which
      // hung the request. Such a call runs out its retries in the background, and its outcome is not needed:
      // the updates already in the run get the answer, which the row keeps for the next repeat.
      const outlasted = new Promise<never>((_, reject) =>
        waited.signal.addEventListener('abort', () => reject(waited.signal.reason as Error), { once: true }),
      );
      admitted.catch(() => undefined);
      const admission = await Promise.race([admitted, outlasted]);
      metrics.repoConnections.inc({ status: 'admitted' });
      log.info({ repoId: admission.repoId }, 'repository admitted');
      const { sealedWebhookSecret: echoed, ...answer } = admission;
      return {
        admission: answer,
        workflowId,
        replayed: false,
        ...(echoed ? { webhookSecret: await echoedWebhookSecret(echoed) } : {}),
      };
    } catch (err) {
      if (waited.signal.aborted) {
        // Counted as it was answered: the same request sent again is answered from the row, not counted twice.
        metrics.repoConnections.inc({ status: 'admission_pending' });
        log.info('admission still under way; answered 202');
        return { pending: true, workflowId };
      }
      if (err instanceof WorkflowUpdateFailedError) {
        const rejection = rejectionError(err);
        metrics.repoConnections.inc({ status: rejection.code });
        log.info({ error: rejection.code }, 'repository rejected');
        throw rejection;
      }
      if (err instanceof WorkflowExecutionAlreadyStartedError) {
        const repo = await findRepoByWorkflowId(sql, workflowId);
        if (repo) return replay(repo);
        throw new ApiError(409, 'invalid_state', 'This request_id was already used and did not connect a repository');
      }
      throw err;
    } finally {
      clearTimeout(timer);
    }

    /** Ours, unless the run was started by another request with this key (another API process): then its own. */
    function echoedWebhookSecret(echoed: SealedSecret): Promise<string> {
      return echoed.ciphertext === sealedWebhookSecret.ciphertext
        ? Promise.resolve(webhookSecret)
        : openSealed(keys, echoed, req.requestId, 'webhook-secret');
    }
  }
}
