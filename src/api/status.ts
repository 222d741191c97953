import type { Client } from '@temporalio/client';
import type { Sql } from '../db/client.js';
import { findOwnedRepo } from '../db/repos.js';
import { getStateQuery, type ConnectRepositoryState } from '../shared/connect-repository.js';
import { statusBody } from './presenters.js';

/** How long a status waits for the workflow's live state; the row is served either way. */
const LIVE_STATE_DEADLINE_MS = 1500;
/**
 * How long one answer of a workflow's query serves every status of it: a query may replay a workflow
 * evicted from the worker's cache, so many pollers (and event streams) of one repository cost one.
 */
export const LIVE_STATE_SHARED_MS = 500;
/** Workflows whose last answer is kept at most, per client; stale ones go first. */
const LIVE_STATES_MAX = 10_000;

export type StatusBody = ReturnType<typeof statusBody>;

/** A repository's status as `/status` answers it and `/events` streams it. */
export interface RepoStatus {
  body: StatusBody;
  /**
   * Whether the workflow's state has caught up with the row: a clone's activity writes the row's
   * COMPLETED (or a cleanup its CLEANED) a moment before the workflow hears of it. True when the
   * workflow did not answer, since then the row is all there is.
   */
  caughtUp: boolean;
}

async function queryState(temporal: Client, workflowId: string): Promise<ConnectRepositoryState | undefined> {
  try {
    return await temporal.connection.withDeadline(Date.now() + LIVE_STATE_DEADLINE_MS, () =>
      temporal.workflow.getHandle(workflowId).query(getStateQuery),
    );
  } catch {
    return undefined;
  }
}

interface SharedState {
  /** Until when the answer serves others: Infinity while the query is under way. */
  until: number;
  state: Promise<ConnectRepositoryState | undefined>;
}
const sharedByClient = new WeakMap<Client, Map<string, SharedState>>();

/**
 * The workflow's live state, one query shared by every caller of the same moment (and of the next
 * LIVE_STATE_SHARED_MS). An answer whose status the row has moved past is not shared: asked again.
 */
export async function liveState(
  temporal: Client,
  workflowId: string,
  rowStatus?: string,
  now: () => number = Date.now,
): Promise<ConnectRepositoryState | undefined> {
  let shared = sharedByClient.get(temporal);
  if (!shared) sharedByClient.set(temporal, (shared = new Map<string, SharedState>()));
  const kept = shared.get(workflowId);
  if (kept && kept.until > now()) {
    const state = await kept.state;
    if (rowStatus === undefined || state === undefined || state.cloneStatus === rowStatus) return state;
  }
  if (shared.size >= LIVE_STATES_MAX) for (const [id, entry] of shared) if (entry.until <= now()) shared.delete(id);
  const entry: SharedState = { until: Infinity, state: queryState(temporal, workflowId) };
  shared.set(workflowId, entry);
  const state = await entry.state;
  entry.until = now() + LIVE_STATE_SHARED_MS;
  return state;
}

/** The row, enriched by the workflow's live state when Temporal answers; undefined when the repository is not the user's. */
export async function readStatus(
  deps: { sql: Sql; temporal: Client },
  repoId: string,
  userId: string,
): Promise<RepoStatus | undefined> {
  const repo = await findOwnedRepo(deps.sql, repoId, userId);
  if (!repo) return undefined;
  const live = repo.workflowId ? await liveState(deps.temporal, repo.workflowId, repo.cloneStatus) : undefined;
  return { body: statusBody(repo, live), caughtUp: !live || live.cloneStatus === repo.cloneStatus };
}
