import type { Client } from '@temporalio/client';
import type { Sql } from '../db/client.js';
import { findOwnedRepo } from '../db/repos.js';
import { getStateQuery, type ConnectRepositoryState } from '../shared/connect-repository.js';
import { statusBody } from './presenters.js';

/** How long a status waits for the workflow's live state; the row is served either way. */
const LIVE_STATE_DEADLINE_MS = 1500;

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

async function liveState(temporal: Client, workflowId: string): Promise<ConnectRepositoryState | undefined> {
  try {
    return await temporal.connection.withDeadline(Date.now() + LIVE_STATE_DEADLINE_MS, () =>
      temporal.workflow.getHandle(workflowId).query(getStateQuery));
  } catch {
    return undefined;
  }
}

/** The row, enriched by the workflow's live state when Temporal answers; undefined when the repository is not the user's. */
export async function readStatus(deps: { sql: Sql; temporal: Client }, repoId: string, userId: string): Promise<RepoStatus | undefined> {
  const repo = await findOwnedRepo(deps.sql, repoId, userId);
  if (!repo) return undefined;
  const live = repo.workflowId ? await liveState(deps.temporal, repo.workflowId) : undefined;
  return { body: statusBody(repo, live), caughtUp: !live || live.cloneStatus === repo.cloneStatus };
}
