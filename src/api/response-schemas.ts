import { z } from 'zod';
import { uuid } from './schemas.js';

// What the API answers: the schemas of its response bodies, for the OpenAPI document.

const timestamp = z.string().datetime({ offset: true });
const cloneStatus = z.enum(['PENDING', 'CLONING', 'COMPLETED', 'FAILED', 'CLEANING', 'CLEANED']);

const identity = {
  ref: z
    .string()
    .nullable()
    .describe(
      "The branch or tag checked out (for a connect without `ref`, the remote's default branch); null before the size check has read it, and for repositories connected before refs were recorded or with no commits",
    ),
  head_commit: z
    .string()
    .regex(/^[0-9a-f]{40}([0-9a-f]{24})?$/)
    .nullable()
    .describe('Full SHA of the commit checked out; null until the clone completes'),
  synced_at: timestamp.nullable().describe('When head_commit was checked out; null until the clone completes'),
  last_checked_at: timestamp
    .nullable()
    .describe("When a sync last read the ref's commit from the Git server, new or not; null until the first sync"),
  up_to_date_syncs: z
    .number()
    .int()
    .describe('Syncs that found head_commit already current (counted here, not audited one by one)'),
  sync_interval_seconds: z
    .number()
    .int()
    .nullable()
    .describe('How often the repository syncs by itself; null: on demand and on push only'),
  needs_attention: z
    .boolean()
    .describe(
      'Syncs have stopped (the Git server refused the token, or SYNC_FAILURE_LIMIT syncs in a row failed; error_code and error_message say which) until a retry, with a new token if need be, or a new connect',
    ),
};

export const projectSchema = z.object({ id: uuid, name: z.string(), owner_id: z.string(), created_at: timestamp });

export const connectResponseSchema = z.object({
  repo_id: uuid,
  git_url: z.string(),
  connected: z.literal(true),
  task_id: z.string().describe('Temporal run id of the workflow run that admitted the request'),
  workflow_id: z.string(),
  estimated_size_mb: z.number().nullable(),
  clone_status: cloneStatus,
  created_at: timestamp,
  webhook_url: z
    .string()
    .optional()
    .describe(
      "Where to deliver the repository's push webhooks (absolute when PUBLIC_BASE_URL is set, else the path); absent for repositories connected before webhooks existed",
    ),
  webhook_secret: z
    .string()
    .optional()
    .describe(
      "The push webhook's secret: shown here only (and again in a replay of this same request), never by a GET. Absent for repositories connected before webhooks existed",
    ),
});

export const repoSchema = z.object({
  id: uuid,
  project_id: uuid,
  git_url: z.string(),
  repository_size_mb: z.number().nullable(),
  clone_status: cloneStatus,
  sandbox_path: z.string().nullable(),
  ...identity,
  created_at: timestamp,
  updated_at: timestamp,
});

export const repoStatusSchema = z.object({
  repo_id: uuid,
  clone_status: z
    .enum([...cloneStatus.options, 'SYNCING'])
    .describe("The row's status, or SYNCING while a sync runs (the clone stays usable; the row stays COMPLETED)"),
  repository_size_mb: z.number().nullable(),
  sandbox_path: z.string().nullable(),
  progress_message: z.string().nullable(),
  error_code: z
    .string()
    .nullable()
    .describe(
      "Why it failed (the error table's codes, or workflow_lost), while FAILED; while COMPLETED, why the last sync failed",
    ),
  error_message: z.string().nullable(),
  progress_percent: z.number().nullable(),
  bytes_received: z
    .number()
    .int()
    .nullable()
    .describe(
      "Bytes the clone's download has received as git reports them (once COMPLETED, what it received in all: the history beyond what admission's size check already fetched, when the clone deepened that); null before git reports any, and after a failure",
    ),
  bytes_per_second: z
    .number()
    .nullable()
    .describe('The current receive rate, as git reports it, while the clone receives objects; null otherwise'),
  stage: z.string().nullable(),
  next_sync_at: timestamp
    .nullable()
    .describe(
      'When the schedule syncs next; null without a schedule, while syncs need attention, or when the workflow did not answer',
    ),
  consecutive_sync_failures: z
    .number()
    .int()
    .nullable()
    .describe('Syncs that failed since the last one that succeeded; null when the workflow did not answer'),
  ...identity,
  workflow_id: z.string().nullable(),
  updated_at: timestamp,
});

export const repoListSchema = z.array(repoSchema);
export const admissionPendingSchema = z.object({
  workflow_id: z.string(),
  request_id: uuid,
  status: z.literal('admission_pending'),
  message: z.string(),
});
export const acceptedSchema = z.object({
  repo_id: uuid,
  clone_status: cloneStatus,
  workflow_id: z.string().nullable(),
});
export const disconnectedSchema = acceptedSchema.extend({ disconnected_at: timestamp });

export const webhookAnswerSchema = z.object({
  status: z
    .enum(['accepted', 'duplicate', 'ignored'])
    .describe(
      "accepted: a sync was asked for (reason `coalesced`: joined to the repository's one deferred sync, over the rate); duplicate: this delivery id was already acted on; ignored: nothing to do (see reason)",
    ),
  repo_id: uuid,
  delivery_id: z.string(),
  reason: z
    .string()
    .optional()
    .describe('Why an ignored delivery was ignored; `coalesced` for an accepted one over the rate'),
});

export const errorSchema = z.object({
  detail: z.looseObject({ error: z.string(), message: z.string() }),
});

export const healthSchema = z.object({ status: z.literal('ok') });
const checkState = z.enum(['up', 'down']);
export const readySchema = z.object({
  status: z.literal('ready'),
  checks: z.object({ database: checkState, temporal: checkState, search_attributes: checkState }),
});
