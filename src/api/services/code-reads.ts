import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Logger } from '../../config/logger.js';
import { signReadToken } from '../../crypto/read-token.js';
import { insertAudit } from '../../db/audit.js';
import { findReadHost } from '../../db/read-hosts.js';
import { findOwnedRepo, type CodeRepo } from '../../db/repos.js';
import { metrics } from '../../observability/metrics.js';
import { GONE_MESSAGE, notReadyMessage, readabilityOf } from '../../shared/repo-eligibility.js';
import type { ApiDeps } from '../deps.js';
import { ApiError } from '../errors.js';
import { statusBody } from '../presenters.js';
import { forwardRead, HostUnreachable, type Upstream } from '../read-proxy.js';
import type { ReadOp } from '../read-schemas.js';
import { liveState } from '../status.js';

/** How soon a reader asks again: while the clone runs, and while its host is away. */
const NOT_READY_RETRY_SECONDS = 5;
const HOST_RETRY_SECONDS = 5;
/** A host's read service that does not take the connection in this time is as good as gone. */
const CONNECT_TIMEOUT_MS = 2000;
/** Beyond the read's own bounds (a search's time cap), the most a host may take to start its answer. */
const ANSWER_TIMEOUT_MS = 15_000;
/** Error bodies of a host are small JSON; more is not one. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;

export interface ReadCall {
  op: ReadOp;
  repoId: string;
  userId: string;
  /** What follows `/repos/{repo_id}/` in the request's path, as it came (still percent-encoded). */
  subpath: string;
  /** The request's query, as it came; `commit` (compare: `head`) defaults to the row's head commit. */
  query: URLSearchParams;
  accept?: string;
  ifNoneMatch?: string;
  signal?: AbortSignal;
}

export interface RoutedRead {
  repo: CodeRepo;
  hostTaskQueue: string;
  upstream: Upstream;
}

const hostUnavailable = (why: string) =>
  new ApiError(
    503,
    'host_unavailable',
    `The worker host that holds this repository is unavailable (${why}); try again shortly`,
    {},
    { 'Retry-After': String(HOST_RETRY_SECONDS) },
  );

/** Reads at most `max` bytes of a stream (the rest is not read: the stream is destroyed). */
async function head(stream: Upstream['body'], max: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    chunks.push(chunk);
    size += chunk.length;
    if (size > max) break;
  }
  stream.destroy();
  return Buffer.concat(chunks).toString();
}

/** An error answer of the host, as the API's own: the same envelope and details, so it is passed on as it is. */
async function hostError(upstream: Upstream): Promise<ApiError> {
  const body = await head(upstream.body, MAX_ERROR_BODY_BYTES).catch(() => '');
  let detail: Record<string, unknown> = {};
  try {
    if (body.length <= MAX_ERROR_BODY_BYTES) detail = (JSON.parse(body) as { detail?: typeof detail }).detail ?? {};
  } catch {
    // Not ours: reported below as the host's failure.
  }
  const { error, message, ...extra } = detail;
  // A read the host does not know: it runs another version of the service than this API.
  if (error === 'unknown_read')
    return new ApiError(502, 'read_service_mismatch', 'The worker host does not serve this read; try again later');
  const retryAfter = upstream.headers['retry-after'];
  return new ApiError(
    upstream.status as ContentfulStatusCode,
    typeof error === 'string' ? error : 'read_failed',
    typeof message === 'string' ? message : 'The read failed on the worker host',
    extra,
    retryAfter ? { 'Retry-After': retryAfter } : {},
  );
}

/**
 * Reads of connected code: the user's repository, readable, routed to the read service of the
 * host whose disk holds it (the row's host), with a token signed for that host and repository.
 */
export function createCodeReadService(deps: Pick<ApiDeps, 'sql' | 'temporal' | 'settings'>) {
  const { sql, settings } = deps;

  async function readable(repoId: string, userId: string): Promise<CodeRepo> {
    const repo = await findOwnedRepo(sql, repoId, userId);
    if (!repo) throw new ApiError(404, 'not_found', 'Repository not found');
    const readability = readabilityOf(repo.cloneStatus, repo.disconnectedAt !== null);
    if (readability === 'gone') throw new ApiError(410, 'gone', GONE_MESSAGE);
    if (readability === 'not_ready') {
      const live = repo.workflowId ? await liveState(deps.temporal, repo.workflowId, repo.cloneStatus) : undefined;
      const s = statusBody(repo, live);
      throw new ApiError(
        409,
        'not_ready',
        notReadyMessage(repo.cloneStatus),
        {
          clone_status: s.clone_status,
          stage: s.stage,
          progress_percent: s.progress_percent,
          progress_message: s.progress_message,
        },
        repo.cloneStatus === 'FAILED' ? {} : { 'Retry-After': String(NOT_READY_RETRY_SECONDS) },
      );
    }
    return repo;
  }

  /** The host's read service for the row, when it has renewed its address lately. */
  async function hostOf(repo: CodeRepo): Promise<{ hostTaskQueue: string; url: string }> {
    if (!repo.hostTaskQueue) throw hostUnavailable('no host is recorded for its clone');
    const host = await findReadHost(sql, repo.hostTaskQueue);
    if (!host) throw hostUnavailable('its read service is not running');
    if (host.ageSeconds > settings.readHostStaleSeconds) throw hostUnavailable('its read service stopped answering');
    return { hostTaskQueue: host.hostTaskQueue, url: host.url };
  }

  return {
    async read(call: ReadCall): Promise<RoutedRead> {
      const repo = await readable(call.repoId, call.userId);
      const host = await hostOf(repo);
      const query = new URLSearchParams(call.query);
      const pinned = call.op === 'compare' ? 'head' : 'commit';
      if (!query.has(pinned) && repo.headCommit) query.set(pinned, repo.headCommit);
      const url = new URL(`${host.url}/repos/${repo.id}/${call.subpath}`);
      url.search = query.toString();
      const token = await signReadToken(settings.readServiceSecret, host.hostTaskQueue, {
        userId: call.userId,
        repoId: repo.id,
      });
      const headers: Record<string, string> = { authorization: `Bearer ${token}` };
      if (call.accept) headers.accept = call.accept;
      if (call.ifNoneMatch) headers['if-none-match'] = call.ifNoneMatch;
      let upstream: Upstream;
      try {
        upstream = await forwardRead(url, {
          headers,
          signal: call.signal,
          connectTimeoutMs: CONNECT_TIMEOUT_MS,
          answerTimeoutMs: ANSWER_TIMEOUT_MS + (call.op === 'search' ? settings.readBounds.searchTimeoutMs : 0),
        });
      } catch (err) {
        if (err instanceof HostUnreachable) throw hostUnavailable(err.message);
        throw err;
      }
      // The clone left this host between the row's read and the call (a retry cloned it elsewhere).
      if (upstream.status === 421) {
        upstream.body.resume();
        throw hostUnavailable('its clone is moving');
      }
      if (upstream.status === 401) {
        upstream.body.resume();
        throw new ApiError(502, 'read_service_refused', 'The worker host refused the API: READ_SERVICE_SECRET differs');
      }
      if (upstream.status >= 400) throw await hostError(upstream);
      return { repo, hostTaskQueue: host.hostTaskQueue, upstream };
    },

    /** An archive download is on the record: who took which commit's code, and which paths of it. */
    async recordArchive(
      repo: CodeRepo,
      audit: { correlationId: string; userId: string },
      metadata: Record<string, unknown>,
    ) {
      await insertAudit(sql, {
        ...audit,
        requestId: repo.requestId,
        repoId: repo.id,
        action: 'archive_downloaded',
        fromState: null,
        toState: null,
        metadata,
      });
    },
  };
}

/** One read as it is accounted for: what it was of (never what it returned), how it ended, and its cost. */
export interface ReadRecord {
  op: ReadOp;
  /** Which surface carried it: the REST routes or the MCP tools. */
  via: 'rest' | 'mcp';
  repoId: string | null;
  userId: string;
  subject: Record<string, unknown>;
  /** The commit the host read (its X-Commit), when it answered. */
  resolvedCommit: string | null;
  status: number;
  outcome: string;
  bytes: number;
  durationMs: number;
}

/** Counts, times and access-logs a read: repo_reads_total, repo_read_duration_seconds, repo_read_bytes_total, 'code read'. */
export function recordRead(log: Logger, r: ReadRecord): void {
  metrics.repoReads.inc({ op: r.op, outcome: r.outcome });
  metrics.repoReadDuration.observe({ op: r.op }, r.durationMs / 1000);
  metrics.repoReadBytes.inc({ op: r.op }, r.bytes);
  const { subject, ...rest } = r;
  log.info({ ...rest, ...subject }, 'code read');
}
