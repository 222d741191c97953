import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { CloneStatus } from './repo-status.js';

/**
 * A secret sealed with envelope encryption (base64 ciphertext and the id of the key that wrapped
 * its data key). The access token only ever travels through Temporal in this form, so not even
 * the codec endpoint that decodes payloads for the Web UI can show it.
 */
export interface SealedSecret {
  ciphertext: string;
  keyId: string;
}

/**
 * A sealed secret under the field names of its row's columns (`<name>Ciphertext`, `<name>Kid`), as recorded
 * payloads carry it: the same secret and key as a SealedSecret, which storedAs and sealedFrom convert between.
 */
export type StoredSecret<Name extends string> = Record<`${Name}Ciphertext`, string> & Record<`${Name}Kid`, string>;

/** A token encrypted for storage, bound to its repository. */
export type EncryptedToken = StoredSecret<'token'>;

/** A repository's webhook secret encrypted for storage, bound to its repository. */
export type EncryptedWebhookSecret = StoredSecret<'webhookSecret'>;

export const storedAs = <Name extends string>(name: Name, sealed: SealedSecret): StoredSecret<Name> =>
  ({ [`${name}Ciphertext`]: sealed.ciphertext, [`${name}Kid`]: sealed.keyId }) as StoredSecret<Name>;

export const sealedFrom = <Name extends string>(name: Name, stored: StoredSecret<Name>): SealedSecret => {
  const fields: Record<string, string> = stored;
  return { ciphertext: fields[`${name}Ciphertext`]!, keyId: fields[`${name}Kid`]! };
};

/** The authenticated context of a token sealed for its trip through Temporal. */
export const transportContext = (requestId: string): string => `transport:${requestId}`;

/** What every run of a connect carries. Evolve by adding optional fields only: old histories replay with old inputs. */
export interface ConnectSettings {
  requestId: string;
  correlationId: string;
  userId: string;
  projectId: string;
  gitUrl: string;
  /** How long a clone is kept (and a failed run waits for `retry`) before cleanup. */
  sandboxTtlSeconds: number;
  /** A slow keyed hash of (project, URL, token), computed by the API: recognises a repeat with other parameters. */
  requestFingerprint: string;
  /** The branch or tag to clone (checked against ls-remote by the size check); absent: the remote's default branch. */
  ref?: string;
  /** Sync by a durable timer this long after the last sync (of any kind) ended; absent: on demand and on push only. */
  syncIntervalSeconds?: number;
  /** Failed syncs in a row after which the run stops syncing by itself until the user answers (SYNC_FAILURE_LIMIT). */
  syncFailureLimit?: number;
  /** Syncs one run makes before it continues as new, so its history stays bounded (SYNCS_PER_RUN). */
  syncsPerRun?: number;
}

/** A new connect, as the API starts it. */
export interface NewConnectInput extends ConnectSettings {
  /** The access token, sealed by the API (context: transportContext(requestId)). */
  sealedToken: SealedSecret;
  /** The repository's push webhook secret, made and sealed by the API like the token; optional in recorded inputs. */
  sealedWebhookSecret?: SealedSecret;
}

/** A run continued (continue-as-new) from one whose clone is kept: it carries no secret, only where it left off. */
export interface ContinuedRunInput extends ConnectSettings {
  kept: KeptRepository;
  /** A placeholder some continued inputs carry; never read. */
  sealedToken?: SealedSecret;
}

/** Workflow input: a new connect, or a continued run (told apart by `kept`). */
export type ConnectRepositoryInput = NewConnectInput | ContinuedRunInput;

export const isContinuedRun = (input: ConnectRepositoryInput): input is ContinuedRunInput =>
  'kept' in input && input.kept !== undefined;

/** What a run whose clone is kept hands the run it continues as: everything its kept phase needs. */
export interface KeptRepository {
  repoId: string;
  admission: Admission;
  hostTaskQueue: string;
  ref?: string;
  state: ConnectRepositoryState;
  /** When the sandbox's TTL runs out unless a sync starts it again (ISO 8601). */
  keptUntil: string;
  /** A sync asked for while the earlier run ended (carried, not lost). */
  pendingSync?: SyncRequest;
  /** A sync the service failed, to run again at `at` (ISO 8601), and the service failures in a row before it. */
  serviceRetry?: { at: string; request: SyncRequest; failures: number };
  /** The webhook deliveries the earlier runs took last (a redelivery the API signals again is not synced twice). */
  recentDeliveries?: string[];
}

/**
 * What identifies a request besides its key (the workflow id). A second start with the same key
 * must carry the same fingerprint, or it is a conflicting reuse of the key.
 */
export interface RequestFingerprint {
  projectId: string;
  gitUrl: string;
  userId: string;
  requestFingerprint: string;
}

export const fingerprintOf = (i: RequestFingerprint): RequestFingerprint => ({
  projectId: i.projectId,
  gitUrl: i.gitUrl,
  userId: i.userId,
  requestFingerprint: i.requestFingerprint,
});

export const sameFingerprint = (a: RequestFingerprint, b: RequestFingerprint): boolean =>
  a.projectId === b.projectId &&
  a.gitUrl === b.gitUrl &&
  a.userId === b.userId &&
  a.requestFingerprint === b.requestFingerprint;

/** What the API answers once the workflow has admitted the request (the early return), and again on every repeat. */
export interface Admission {
  repoId: string;
  gitUrl: string;
  cloneStatus: CloneStatus;
  estimatedSizeMb: number | null;
  createdAt: string;
  /** The workflow run that admitted it (the answer's `task_id`). */
  runId: string;
  /** The input's sealed webhook secret, echoed: the API shows it once, in its answer. */
  sealedWebhookSecret?: SealedSecret;
}

export type Stage =
  | 'encrypting'
  | 'checking_size'
  | 'persisting'
  | 'cloning'
  /** The clone is kept and readable, waiting for a sync, the cleanup signal or the TTL. */
  | 'ready'
  /** Fetching the ref's new commits into the kept clone (the status shows SYNCING); the row stays COMPLETED. */
  | 'syncing'
  | 'cleaning'
  | 'done'
  | 'failed';

/** Live state, answered by `getStateQuery` without touching the database. */
export interface ConnectRepositoryState {
  stage: Stage;
  cloneStatus: CloneStatus | null;
  repoId: string | null;
  progressPercent: number;
  progressMessage: string | null;
  /** Bytes the clone has received (its total once COMPLETED); null before git reports any, and after a failure. */
  bytesReceived: number | null;
  /** git's current receive rate (bytes per second) while it receives objects; null otherwise. */
  bytesPerSecond: number | null;
  estimatedSizeMb: number | null;
  repositorySizeMb: number | null;
  sandboxPath: string | null;
  error: { code: string; message: string } | null;
  /** How many times the clone has been started (retry signals start it again). */
  cloneAttempts: number;
  /** Syncs of the kept clone; absent in runs kept without schedules and bounds. */
  syncs?: SyncSummary;
  startedAt: string;
  updatedAt: string;
}

/** The kept clone's syncs, as the state shows them (and carries across continue-as-new). */
export interface SyncSummary {
  /** Syncs run since the clone completed, over every run of the workflow. */
  count: number;
  /** Failed syncs since the last one that succeeded. */
  consecutiveFailures: number;
  /** Syncs stopped until the user answers (`retry` with a new token, or a new connect). */
  needsAttention: boolean;
  /** The schedule's interval; null: on demand and on push only. */
  intervalSeconds: number | null;
  /** When the schedule syncs next (ISO 8601); null without a schedule, or while syncs need attention. */
  nextSyncAt: string | null;
  lastTrigger: SyncTrigger | null;
  /** How many times the workflow has continued as new (each run carrying this state on). */
  continuedAsNew: number;
}

/** Sent by the clone activity while it runs; throttled so history stays small. */
export interface CloneProgress {
  percent: number;
  bytes: number | null;
  /** git's receive rate (bytes per second) while it receives objects; optional. */
  bytesPerSecond?: number | null;
  stage: string;
}

/** `retry`, optionally with a new access token sealed like the input's (context: transportContext(requestId)). */
export interface RetryRequest {
  sealedToken?: SealedSecret;
  requestedBy?: string;
}

export const admissionUpdate = defineUpdate<Admission, [RequestFingerprint]>('admission');
export const getStateQuery = defineQuery<ConnectRepositoryState>('getState');
export const cleanupSignal = defineSignal<[{ requestedBy?: string }?]>('cleanup');
export const retrySignal = defineSignal<[RetryRequest?]>('retry');
/**
 * `retry` as the API sends it: answered once the retry is accepted, or refused (not FAILED; or
 * a too-large failure whose repository a new probe still finds over the limit: 413 at once).
 */
export const retryUpdate = defineUpdate<{ accepted: true }, [RetryRequest]>('requestRetry');
/** What asked for a sync: a user through the API, a verified push webhook, or the repository's own schedule. */
export type SyncTrigger = 'api' | 'webhook' | 'schedule';

/** A `sync` request; one without a trigger is the user's (`api`). */
export interface SyncRequest {
  requestedBy?: string;
  trigger?: SyncTrigger;
  /** The webhook delivery that asked for it (its sender's delivery id), for the audit trail. */
  deliveryId?: string;
  /** The pushed commit (webhook): a clone that already has it fetches nothing. */
  after?: string;
}

/** `sync`: fetch the ref's new commits into the kept clone. Requests made while one runs coalesce into one more. */
export const syncSignal = defineSignal<[SyncRequest?]>('sync');
export const cloneProgressSignal = defineSignal<[CloneProgress]>('cloneProgress');
