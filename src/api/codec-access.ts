import type { HttpBindings } from '@hono/node-server';
import type { Context, MiddlewareHandler } from 'hono';
import type { ApiEnv } from './context.js';

/** What the loopback exception looks at: the request's own headers and the socket it came in on. */
export interface LoopbackRequest {
  host: string | undefined;
  origin: string | undefined;
  /** Address and port of the API's end of the connection. */
  localAddress: string | undefined;
  localPort: number | undefined;
  /** Whether it bears a header a proxy or tunnel adds (Forwarded, X-Forwarded-*, Via…). */
  forwarded?: boolean;
}

const LOOPBACK_ADDRESSES = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);
/** A Host header naming this machine: a name only loopback answers to, and a port (80 when absent). */
const LOOPBACK_HOST_HEADER = /^(?:127\.0\.0\.1|localhost|\[::1\])(?::(\d{1,5}))?$/i;

/** Headers a proxy or tunnel adds: a request bearing one came from elsewhere, whatever socket it arrived on. */
const FORWARDING_HEADERS = [
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-real-ip',
  'via',
];

/**
 * Whether a request is the embedded Temporal UI's own, let through without a token: it reached a
 * loopback socket with no sign of a proxy, its Host header names loopback on the port that socket
 * listens on (a page of another site rebound to 127.0.0.1 by DNS still sends its own name), and its
 * Origin is exactly one of `uiOrigins` (a page of another origin cannot forge it). A program on this
 * machine can send those headers: for the user who runs `npm start` that adds nothing (the data
 * folder's keys are theirs), but other local users, and anything a tunnel or port forward exposes,
 * get a decoding oracle (sealed tokens stay sealed). Hence loopback only, and `npm start` only.
 */
export function isLoopbackUiRequest(req: LoopbackRequest, uiOrigins: readonly string[]): boolean {
  if (req.forwarded) return false;
  if (!req.origin || !uiOrigins.includes(req.origin)) return false;
  if (!req.localAddress || !LOOPBACK_ADDRESSES.has(req.localAddress)) return false;
  const host = req.host === undefined ? null : LOOPBACK_HOST_HEADER.exec(req.host);
  return !!host && Number(host[1] ?? 80) === req.localPort;
}

function loopbackRequest(c: Context<ApiEnv>): LoopbackRequest {
  // Present under @hono/node-server only; elsewhere (app.request in tests) no socket, so no exception.
  const socket = (c.env as Partial<HttpBindings> | undefined)?.incoming?.socket;
  return {
    host: c.req.header('host'),
    origin: c.req.header('origin'),
    localAddress: socket?.localAddress,
    localPort: socket?.localPort,
    forwarded: FORWARDING_HEADERS.some((name) => c.req.header(name) !== undefined),
  };
}

/** The rate-limit bucket of a /codec caller: the operator, or the loopback address the UI calls from. */
export function codecCallerKey(c: Context<ApiEnv>): string {
  const userId = c.get('userId');
  if (userId) return `codec:user:${userId}`;
  const socket = (c.env as Partial<HttpBindings> | undefined)?.incoming?.socket;
  return `codec:loopback:${socket?.remoteAddress ?? 'unknown'}`;
}

/**
 * /codec's gate: the loopback UI exception (only when `loopbackUiOrigins` is non-empty, which the
 * API's start-up allows only on a loopback-bound API), else `operator` (a token with the operator scope).
 */
export function codecAccess(
  operator: MiddlewareHandler<ApiEnv>,
  loopbackUiOrigins: readonly string[],
): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    if (loopbackUiOrigins.length > 0 && isLoopbackUiRequest(loopbackRequest(c), loopbackUiOrigins)) return next();
    return operator(c, next);
  };
}
