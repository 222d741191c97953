import {
  allHandlersFinished,
  condition,
  continueAsNew,
  patched,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import {
  isContinuedRun,
  type ConnectRepositoryInput,
  type ConnectSettings,
  type ContinuedRunInput,
  type KeptRepository,
} from '../shared/connect-repository.js';
import { CLONE_STATUS } from '../shared/search-attributes.js';
import { cleanUp } from './connect-cleanup.js';
import type { connectRepository } from './connect-repository.js';
import {
  DEFAULT_SYNC_FAILURE_LIMIT,
  DEFAULT_SYNCS_PER_RUN,
  dueAt,
  firstSyncSummary,
  nextWakeAt,
} from './connect-rules.js';
import type { ConnectRepositoryResult, ConnectRun } from './connect-run.js';
import { syncOnce } from './connect-sync.js';
import { SYNC_SCHEDULE_AND_BOUNDS } from './patches.js';

/** How the kept phase runs: fixed when it starts. */
interface KeptPolicy {
  /** Schedules, the failure bound and continue-as-new; off in runs that reached this phase without them. */
  bounded: boolean;
  intervalMs: number | null;
  failureLimit: number | null;
  syncsPerRun: number;
}

/** A continued run: the search attributes set again (the test server does not carry them), then the kept phase. */
export function resumeKeptPhase(run: ConnectRun, carried: KeptRepository): Promise<ConnectRepositoryResult> {
  upsertSearchAttributes([{ key: CLONE_STATUS, value: run.state.cloneStatus ?? 'COMPLETED' }]);
  run.hostTaskQueue = carried.hostTaskQueue;
  run.updateSyncs({ continuedAsNew: run.state.syncs!.continuedAsNew + 1 });
  return keepClone(run, Date.parse(carried.keptUntil));
}

/**
 * The clone is kept until `keptUntil` (the TTL), which every sync starts again; meanwhile syncs run
 * when asked for, on push, and on the schedule. Past SYNCS_PER_RUN syncs (or when Temporal suggests
 * it) the run continues as new, carrying the kept phase on, so its history stays bounded.
 */
export async function keepClone(run: ConnectRun, keptUntil: number): Promise<ConnectRepositoryResult> {
  const policy = keptPolicyOf(run, patched(SYNC_SCHEDULE_AND_BOUNDS));
  if (policy.bounded && !run.state.syncs) run.state.syncs = firstSyncSummary(run.input.syncIntervalSeconds ?? null);
  const carriedNext = run.carried && run.state.syncs?.nextSyncAt ? Date.parse(run.state.syncs.nextSyncAt) : undefined;
  let scheduledAt = policy.intervalMs === null ? undefined : (carriedNext ?? Date.now() + policy.intervalMs);
  let syncsThisRun = 0;
  /** Past SYNCS_PER_RUN syncs, or when Temporal suggests it (a paused repository's ignored pushes add up too). */
  const runIsFull = () =>
    policy.bounded && (syncsThisRun >= policy.syncsPerRun || workflowInfo().continueAsNewSuggested);
  while (!run.cleanupRequested) {
    if (runIsFull()) {
      // Handlers under way (a retry's encryption) finish first; a pending sync is carried on, a retry answered here.
      await condition(allHandlersFinished);
      if (!run.cleanupRequested && !run.attentionAnswer) {
        return continueAsNew<typeof connectRepository>(continuation(run, keptUntil, scheduledAt));
      }
    }
    const next = await nextRequest(run, policy, keptUntil, runIsFull, scheduledAt);
    if (next === 'stop') break;
    if (next === 'wait') continue;
    await syncOnce(run, run.pendingSync!, policy.failureLimit);
    keptUntil = Date.now() + run.ttlMs;
    if (policy.intervalMs !== null) scheduledAt = Date.now() + policy.intervalMs;
    syncsThisRun += 1;
  }
  await cleanUp(run, run.cleanupRequested ? 'signal' : 'ttl');
  const { repositorySizeMb } = run.state;
  return run.finish({ repoId: run.repoId, cloneStatus: 'CLEANED' as const, repositorySizeMb });
}

function keptPolicyOf(run: ConnectRun, bounded: boolean): KeptPolicy {
  const { syncIntervalSeconds, syncFailureLimit, syncsPerRun } = run.input;
  return {
    bounded,
    intervalMs: bounded && syncIntervalSeconds ? syncIntervalSeconds * 1000 : null,
    failureLimit: bounded ? (syncFailureLimit ?? DEFAULT_SYNC_FAILURE_LIMIT) : null,
    syncsPerRun: syncsPerRun ?? DEFAULT_SYNCS_PER_RUN,
  };
}

/**
 * Waits for a request, the schedule, a service retry or the TTL; leaves `run.pendingSync` set when a sync is due
 * ('sync'), or says to look again ('wait') or to clean up ('stop').
 */
async function nextRequest(
  run: ConnectRun,
  policy: KeptPolicy,
  keptUntil: number,
  runIsFull: () => boolean,
  scheduledAt: number | undefined,
): Promise<'sync' | 'wait' | 'stop'> {
  const scheduled = run.state.syncs?.needsAttention ? undefined : scheduledAt;
  run.updateSyncs({ nextSyncAt: scheduled === undefined ? null : new Date(scheduled).toISOString() });
  const wait = nextWakeAt(keptUntil, scheduled, run.serviceRetry?.at) - Date.now();
  const requested = () => run.cleanupRequested || run.pendingSync !== undefined || run.attentionAnswer !== undefined;
  const woke = wait > 0 && (await condition(() => requested() || runIsFull(), wait));
  if (run.cleanupRequested) return 'stop';
  if (!run.pendingSync && !run.attentionAnswer) {
    // Unbounded runs wake for nothing else: the TTL ran out.
    if (!policy.bounded) return 'stop';
    if (woke) return 'wait';
    const due = dueAt(Date.now(), keptUntil, scheduled, run.serviceRetry?.at);
    if (due === 'service-retry') run.pendingSync = run.serviceRetry!.request;
    else if (due === 'schedule') run.pendingSync = { trigger: 'schedule' };
    else return due === 'ttl' ? 'stop' : 'wait';
  }
  if (run.attentionAnswer) await resumeSyncs(run);
  return 'sync';
}

/** The user's answer to paused syncs: the row resumed (with the new token), and a sync at once to show if it works. */
async function resumeSyncs(run: ConnectRun): Promise<void> {
  const answer = run.attentionAnswer!;
  run.attentionAnswer = undefined;
  const audit = answer.requestedBy ? { ...run.audit, userId: answer.requestedBy } : run.audit;
  const newToken = answer.newToken ? { newToken: answer.newToken } : {};
  await run.steps.syncBookkeeping.resumeSyncs({ repoId: run.repoId, ...newToken, audit });
  run.updateSyncs({ needsAttention: false, consecutiveFailures: 0 });
  run.update({ error: null });
  run.pendingSync ??= { trigger: 'api', ...(answer.requestedBy ? { requestedBy: answer.requestedBy } : {}) };
}

/** The next run's input: this one's settings and its kept phase; no secret goes on (the row holds what syncs use). */
function continuation(run: ConnectRun, keptUntil: number, scheduledAt: number | undefined): ContinuedRunInput {
  const { sealedWebhookSecret: _secret, ...firstAnswer } = run.admission!;
  const { pendingSync, serviceRetry, recentDeliveries, ref } = run;
  const nextSyncAt = scheduledAt === undefined ? null : new Date(scheduledAt).toISOString();
  const failures = run.serviceFailuresInARow;
  return {
    ...settingsOf(run.input),
    kept: {
      repoId: run.repoId,
      admission: firstAnswer,
      hostTaskQueue: run.hostTaskQueue!,
      ...(ref === undefined ? {} : { ref }),
      state: { ...run.state, syncs: { ...run.state.syncs!, nextSyncAt } },
      keptUntil: new Date(keptUntil).toISOString(),
      ...(pendingSync ? { pendingSync } : {}),
      ...(serviceRetry
        ? { serviceRetry: { at: new Date(serviceRetry.at).toISOString(), request: serviceRetry.request, failures } }
        : {}),
      ...(recentDeliveries.length > 0 ? { recentDeliveries } : {}),
    },
  };
}

/** What every run of this connect carries: the input without its secrets or an earlier run's kept phase. */
function settingsOf(input: ConnectRepositoryInput): ConnectSettings {
  if (isContinuedRun(input)) {
    const { kept: _kept, sealedToken: _placeholder, ...settings } = input;
    return settings;
  }
  const { sealedToken: _token, sealedWebhookSecret: _secret, ...settings } = input;
  return settings;
}
