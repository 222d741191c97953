import {
  allHandlersFinished,
  condition,
  patched,
  upsertSearchAttributes,
  uuid4,
  workflowInfo,
  type ApplicationFailure,
  type CancellationScope,
} from '@temporalio/workflow';
import type { AuditContext } from '../shared/audit-context.js';
import {
  isContinuedRun,
  type Admission,
  type ConnectRepositoryInput,
  type ConnectRepositoryState,
  type EncryptedToken,
  type KeptRepository,
  type RetryRequest,
  type SealedSecret,
  type SyncRequest,
  type SyncSummary,
} from '../shared/connect-repository.js';
import type { CloneStatus } from '../shared/repo-status.js';
import { CLONE_STATUS } from '../shared/search-attributes.js';
import { activitiesFor } from './activity-proxies.js';
import { asApplicationFailure, type Failure } from './failures.js';
import { currentStage } from './connect-rules.js';
import { ADMISSION_AS_LOCAL_ACTIVITIES } from './patches.js';

export interface ConnectRepositoryResult {
  repoId: string;
  cloneStatus: CloneStatus;
  repositorySizeMb: number | null;
}

/** The user's answer to syncs that need attention (`retry`), its new token already encrypted. */
export interface AttentionAnswer {
  requestedBy?: string;
  newToken?: EncryptedToken;
}

const firstState = (startedAt: string): ConnectRepositoryState => ({
  stage: 'encrypting',
  cloneStatus: null,
  repoId: null,
  progressPercent: 0,
  progressMessage: 'Encrypting the access token',
  bytesReceived: null,
  bytesPerSecond: null,
  estimatedSizeMb: null,
  repositorySizeMb: null,
  sandboxPath: null,
  error: null,
  cloneAttempts: 0,
  startedAt,
  updatedAt: startedAt,
});

/** What one run of connectRepository knows, shared by its handlers and phases. */
export class ConnectRun {
  readonly steps = activitiesFor(workflowInfo().taskQueue);
  /** Where an earlier run of this workflow left its kept clone; undefined for a new connect. */
  readonly carried: KeptRepository | undefined;
  readonly state: ConnectRepositoryState;
  readonly audit: AuditContext;
  readonly ttlMs: number;
  readonly repoId: string;

  admission: Admission | undefined;
  rejection: ApplicationFailure | undefined;
  cleanupRequested = false;
  retryRequest: RetryRequest | undefined;
  /** A retry's encryption or size probe under way. */
  retryProbing = false;
  /** A sync asked for that has not started yet: requests while one waits or runs coalesce into it. */
  pendingSync: SyncRequest | undefined;
  /** Delivery ids of the webhook syncs taken, latest last. */
  recentDeliveries: string[];
  attentionAnswer: AttentionAnswer | undefined;
  /** The clone or sync under way, cancelled by the cleanup signal. */
  cloneScope: CancellationScope | undefined;
  token: EncryptedToken | undefined;
  /** The branch or tag the size check resolved (the default branch's name when none was asked for). */
  ref: string | undefined;
  /** The queue of the host that holds the clone. */
  hostTaskQueue: string | undefined;
  /** The host that kept admission's probe: the first clone attempt goes there. */
  probeHost: string | undefined;
  /** A service-failed sync to run again, and when. */
  serviceRetry: { at: number; request: SyncRequest } | undefined;
  serviceFailuresInARow: number;

  constructor(readonly input: ConnectRepositoryInput) {
    const carried = isContinuedRun(input) ? input.kept : undefined;
    this.carried = carried;
    const startedAt = new Date().toISOString();
    this.state = carried
      ? { ...carried.state, stage: currentStage(carried.state.stage), updatedAt: startedAt }
      : firstState(startedAt);
    this.audit = { correlationId: input.correlationId, requestId: input.requestId, userId: input.userId };
    this.ttlMs = input.sandboxTtlSeconds * 1000;
    this.repoId = carried?.repoId ?? uuid4();
    this.admission = carried?.admission;
    this.pendingSync = carried?.pendingSync;
    this.recentDeliveries = carried?.recentDeliveries ?? [];
    this.ref = carried ? carried.ref : input.ref;
    const retry = carried?.serviceRetry;
    this.serviceRetry = retry && { at: Date.parse(retry.at), request: retry.request };
    this.serviceFailuresInARow = retry?.failures ?? 0;
  }

  update(patch: Partial<ConnectRepositoryState>): void {
    Object.assign(this.state, patch, { updatedAt: new Date().toISOString() });
    if (patch.cloneStatus) upsertSearchAttributes([{ key: CLONE_STATUS, value: patch.cloneStatus }]);
  }

  updateSyncs(patch: Partial<SyncSummary>): void {
    if (this.state.syncs) this.update({ syncs: { ...this.state.syncs, ...patch } });
  }

  /** The state FAILED with the failure, and the failure to end the run (or answer a caller) with. */
  fail(failure: Failure): ApplicationFailure {
    this.update({
      stage: 'failed',
      error: { code: failure.code, message: failure.message },
      progressMessage: null,
      progressPercent: 0,
      bytesReceived: null,
      bytesPerSecond: null,
    });
    return asApplicationFailure(failure);
  }

  /** The outcome, once every handler under way has finished. */
  async finish<T>(outcome: T): Promise<T> {
    await condition(allHandlersFinished);
    return outcome;
  }

  /** A signal refused at this stage, recorded for the audit trail. */
  ignore(signal: string): Promise<void> {
    const repoId = this.admission ? this.repoId : null;
    return this.steps.bookkeeping.recordIgnoredSignal({ repoId, signal, stage: this.state.stage, audit: this.audit });
  }

  /** Admission's encryption and insert, run as local activities (or as activities in runs recorded so). */
  admissionSteps() {
    return patched(ADMISSION_AS_LOCAL_ACTIVITIES) ? this.steps.localAdmission : this.steps.bookkeeping;
  }

  encryptForStorage(sealedToken: SealedSecret, sealedWebhookSecret?: SealedSecret) {
    const { requestId, projectId } = this.input;
    const webhook = sealedWebhookSecret ? { sealedWebhookSecret } : {};
    return this.admissionSteps().encryptToken({ sealedToken, ...webhook, requestId, projectId, repoId: this.repoId });
  }

  /** A sync starts: the request pending and the service retry it stands for are taken. */
  syncStarts(): void {
    this.pendingSync = undefined;
    this.serviceRetry = undefined;
  }
}
