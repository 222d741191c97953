import type { Project } from '../db/projects.js';
import type { CodeRepo } from '../db/repos.js';
import type { Admission, ConnectRepositoryState } from '../shared/connect-repository.js';

/** The design's response shapes, field for field. */
const iso = (d: Date | string) => (typeof d === 'string' ? d : d.toISOString());

/** Which ref a repository follows, which commit it holds, and how it is kept current, as every read endpoint shows it. */
const identityOf = (r: CodeRepo) => ({
  ref: r.ref,
  head_commit: r.headCommit,
  synced_at: r.syncedAt ? iso(r.syncedAt) : null,
  last_checked_at: r.lastCheckedAt ? iso(r.lastCheckedAt) : null,
  up_to_date_syncs: r.upToDateSyncs,
  sync_interval_seconds: r.syncIntervalSeconds,
  needs_attention: r.attentionRequiredAt !== null,
});

export const projectBody = (p: Project) => ({
  id: p.id,
  name: p.name,
  owner_id: p.ownerId,
  created_at: iso(p.createdAt),
});

/** Where a repository's push webhook is delivered: absolute when the API knows its public base URL. */
export const webhookUrlOf = (repoId: string, publicBaseUrl?: string) =>
  `${publicBaseUrl ?? ''}/api/v1/hooks/git/${repoId}`;

/** The admission's answer; with the webhook secret, the one place it is ever shown. */
export const connectBody = (
  admission: Admission,
  workflowId: string,
  webhook?: { secret: string; publicBaseUrl?: string },
) => ({
  repo_id: admission.repoId,
  git_url: admission.gitUrl,
  connected: true as const,
  task_id: admission.runId,
  workflow_id: workflowId,
  estimated_size_mb: admission.estimatedSizeMb,
  clone_status: admission.cloneStatus,
  created_at: iso(admission.createdAt),
  ...(webhook
    ? { webhook_url: webhookUrlOf(admission.repoId, webhook.publicBaseUrl), webhook_secret: webhook.secret }
    : {}),
});

/** 202 to a connect whose admission outlasted ADMISSION_WAIT_SECONDS: where its outcome will be. */
export const pendingBody = (workflowId: string, requestId: string) => ({
  workflow_id: workflowId,
  request_id: requestId,
  status: 'admission_pending' as const,
  message: 'Admission is still under way; send the same request again (same request_id) for its outcome',
});

export const repoBody = (r: CodeRepo) => ({
  id: r.id,
  project_id: r.projectId,
  git_url: r.gitUrl,
  repository_size_mb: r.repositorySizeMb,
  clone_status: r.cloneStatus,
  sandbox_path: r.sandboxPath,
  ...identityOf(r),
  created_at: iso(r.createdAt),
  updated_at: iso(r.updatedAt),
});

/** The row, enriched by the workflow's live state when Temporal answered. */
export const statusBody = (r: CodeRepo, live: ConnectRepositoryState | undefined) => ({
  repo_id: r.id,
  // A sync under way shows as SYNCING; the row stays COMPLETED (its clone is there and usable throughout).
  clone_status: r.cloneStatus === 'COMPLETED' && live?.stage === 'syncing' ? ('SYNCING' as const) : r.cloneStatus,
  repository_size_mb: r.repositorySizeMb,
  sandbox_path: r.sandboxPath,
  progress_message: live?.progressMessage ?? null,
  error_code: r.errorCode,
  error_message: r.errorMessage,
  progress_percent:
    live?.progressPercent ?? (r.cloneStatus === 'COMPLETED' || r.cloneStatus === 'CLEANED' ? 100 : null),
  // A worker that predates the rate answers without it.
  bytes_received: live?.bytesReceived ?? null,
  bytes_per_second: live?.bytesPerSecond ?? null,
  stage: live?.stage ?? null,
  next_sync_at: live?.syncs?.nextSyncAt ?? null,
  consecutive_sync_failures: live?.syncs?.consecutiveFailures ?? null,
  ...identityOf(r),
  workflow_id: r.workflowId,
  updated_at: iso(r.updatedAt),
});
