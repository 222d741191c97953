import { setTimeout as sleep } from 'node:timers/promises';
import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { Logger } from '../config/logger.js';
import type { CloneStatus } from '../shared/repo-status.js';
import type { RepoStatus } from './status.js';

export interface StreamTiming {
  /** How often the row and the workflow's state are read again. */
  pollMs: number;
  /** A comment goes out after this long without an event, so proxies keep a quiet stream open. */
  keepAliveMs: number;
  /** A stream's longest life; then it closes, and an EventSource reconnects by itself. */
  maxLifeMs: number;
  /**
   * How long a row at rest waits for its workflow to catch up (a run that ended without doing so,
   * terminated or settled by the reconciler, never will) before its status is final as it stands.
   */
  settleGraceMs: number;
}

export const STATUS_POLL_INTERVAL_MS = 500;

export const STREAM_TIMING: StreamTiming = {
  pollMs: STATUS_POLL_INTERVAL_MS,
  keepAliveMs: 15_000,
  maxLifeMs: 30 * 60_000,
  settleGraceMs: 5_000,
};

/** Where a stream ends: nothing changes from here without the user (retry, cleanup), or ever. */
const AT_REST: ReadonlySet<string> = new Set<CloneStatus>(['COMPLETED', 'FAILED', 'CLEANED']);

/** EventSource sends the last id it saw when it reconnects: the ids go on from there. */
export function lastEventIdOf(header: string | undefined): number {
  return header && /^\d{1,15}$/.test(header) ? Number(header) : 0;
}

export interface StatusStreamOptions {
  log: Logger;
  /** Aborted when the API stops: open streams end, so the server can close. */
  shutdown?: AbortSignal;
  lastEventId?: number;
  timing?: StreamTiming;
  /** Called once the stream has ended, however it ended. */
  onEnd?: () => void;
}

/** Each open stream polls the database and Temporal: one user may hold this many at once (per API process)… */
export const MAX_STREAMS_PER_USER = 5;
/** …and all users together this many, two reads each per poll interval. */
export const MAX_STREAMS = 200;

/** Counts open streams; `open` is false when the user, or the process, already holds the most allowed. */
export function streamQuota(perUser = MAX_STREAMS_PER_USER, total = MAX_STREAMS) {
  const open = new Map<string, number>();
  let all = 0;
  return {
    open(userId: string): boolean {
      const n = open.get(userId) ?? 0;
      if (n >= perUser || all >= total) return false;
      open.set(userId, n + 1);
      all += 1;
      return true;
    },
    close(userId: string): void {
      const n = open.get(userId);
      if (n === undefined) return;
      all -= 1;
      if (n > 1) open.set(userId, n - 1);
      else open.delete(userId);
    },
  };
}

/**
 * Serves a repository's status as Server-Sent Events: `first` at once, then every change `read`
 * finds, each an `event: status` with an increasing id, until the repository is at rest. Nothing
 * is read once the client has gone, the API stops or the stream's life is up.
 */
export function streamStatus(
  c: Context,
  first: RepoStatus,
  read: () => Promise<RepoStatus | undefined>,
  options: StatusStreamOptions,
) {
  const timing = options.timing ?? STREAM_TIMING;
  const response = streamSSE(c, async (stream) => {
    const stop = new AbortController();
    const end = () => stop.abort();
    stream.onAbort(end);
    options.shutdown?.addEventListener('abort', end, { once: true });
    if (options.shutdown?.aborted) end();
    const endsAt = Date.now() + timing.maxLifeMs;
    let id = options.lastEventId ?? 0;
    let sent: string | undefined;
    let lastWrite = Date.now();
    let restingSince: number | undefined;
    try {
      for (let status = first as RepoStatus | undefined; status && !stop.signal.aborted; status = await read()) {
        const now = Date.now();
        const resting = AT_REST.has(status.body.clone_status);
        restingSince = resting ? (restingSince ?? now) : undefined;
        const settled = resting && (status.caughtUp || now - restingSince! >= timing.settleGraceMs);
        const data = JSON.stringify(status.body);
        // A row at rest before its workflow has caught up is held back: the first final event is the last, and whole.
        if (data !== sent && (settled || !resting)) {
          await stream.writeSSE({ event: 'status', id: String(++id), data });
          sent = data;
          lastWrite = Date.now();
        } else if (now - lastWrite >= timing.keepAliveMs) {
          await stream.write(': keep-alive\n\n');
          lastWrite = Date.now();
        }
        if (settled || now >= endsAt) break;
        await sleep(Math.min(timing.pollMs, endsAt - now), undefined, { signal: stop.signal }).catch(() => {});
        if (stop.signal.aborted) break;
      }
    } catch (err) {
      // The client reconnects (with its last id) and is answered afresh, or told what is wrong.
      options.log.warn({ err: { message: (err as Error).message } }, 'status stream ended by an error');
    } finally {
      options.shutdown?.removeEventListener('abort', end);
      options.onEnd?.();
    }
  });
  // Not kept for another request once the stream ends: a stopping server then closes at once, not after the keep-alive timeout.
  response.headers.set('Connection', 'close');
  return response;
}
