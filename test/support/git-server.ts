import { spawn } from 'node:child_process';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface GitServer {
  url: string;
  /** What reached this server so far, log queries included: TCP connections (a TLS attempt too) and HTTP requests. */
  seen(): { connections: number; requests: number };
  stop(): Promise<void>;
}

/** The token a request carries as the HTTP Basic password (any username), as GitHub accepts it. */
function basicPassword(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (!header?.startsWith('Basic ')) return undefined;
  const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon === -1 ? undefined : decoded.slice(colon + 1);
}

/**
 * Test behaviours chosen by a path prefix, so tests in other processes can ask for them:
 * - `/slow/<bytes per second>/<repo>.git`: responses are trickled at that rate;
 * - `/flaky/<key>/<skip>/<n>/<repo>.git`: requests for `info/refs` under `key` number
 *   skip+1 … skip+n answer 503 (the others pass), and `GET /_requests/<key>` lists when each came;
 * - `/drop/<key>/<bytes>/<n>/<repo>.git`: the first n `git-upload-pack` responses under `key`
 *   that grow past `bytes` have their connection destroyed there, mid-pack (smaller ones, such
 *   as protocol v2's ref listing, pass); `GET /_requests/<key>` lists when each drop happened;
 * - `/throttle/<status>/<repo>.git`: every request answers `status` with a rate-limit message,
 *   as GitHub does (429, or 403 with "rate limit exceeded");
 * - `/count/<key>/...`: the response bytes sent under `key` are added up, and `GET /_bytes/<key>`
 *   returns the sum; it may stand before any of the prefixes above;
 * - `/token/<key>/...`: the token accepted under `key` is the one `PUT /_token/<key>` last set (a
 *   user rotating theirs at the Git host), the server's own until then; it may stand after `/count/`.
 */
interface Behaviour {
  bytesPerSecond?: number;
  flaky?: { key: string; skip: number; count: number };
  drop?: { key: string; afterBytes: number; count: number };
  throttleStatus?: number;
  countKey?: string;
  tokenKey?: string;
  rest: string;
}

function parseBehaviour(pathname: string): Behaviour {
  const count = /^\/count\/([\w-]+)(\/.*)$/.exec(pathname);
  if (count) return { ...parseBehaviour(count[2]!), countKey: count[1]! };
  const token = /^\/token\/([\w-]+)(\/.*)$/.exec(pathname);
  if (token) return { ...parseBehaviour(token[2]!), tokenKey: token[1]! };
  const slow = /^\/slow\/(\d+)(\/.*)$/.exec(pathname);
  if (slow) return { bytesPerSecond: Number(slow[1]), rest: slow[2]! };
  const flaky = /^\/flaky\/([\w-]+)\/(\d+)\/(\d+)(\/.*)$/.exec(pathname);
  if (flaky) return { flaky: { key: flaky[1]!, skip: Number(flaky[2]), count: Number(flaky[3]) }, rest: flaky[4]! };
  const drop = /^\/drop\/([\w-]+)\/(\d+)\/(\d+)(\/.*)$/.exec(pathname);
  if (drop) return { drop: { key: drop[1]!, afterBytes: Number(drop[2]), count: Number(drop[3]) }, rest: drop[4]! };
  const throttle = /^\/throttle\/(\d{3})(\/.*)$/.exec(pathname);
  if (throttle) return { throttleStatus: Number(throttle[1]), rest: throttle[2]! };
  return { rest: pathname };
}

/** Writes `data` at most `bytesPerSecond`, pausing the backend while the pace is ahead. */
function throttledWriter(
  res: ServerResponse,
  bytesPerSecond: number | undefined,
  pause: () => void,
  resume: () => void,
) {
  if (!bytesPerSecond) return (data: Buffer) => res.write(data);
  const started = Date.now();
  let sent = 0;
  let queue = Promise.resolve();
  return (data: Buffer) => {
    queue = queue.then(async () => {
      for (let offset = 0; offset < data.length; offset += 4096) {
        const piece = data.subarray(offset, offset + 4096);
        sent += piece.length;
        const due = started + (sent / bytesPerSecond) * 1000;
        if (due > Date.now()) {
          pause();
          await new Promise((r) => setTimeout(r, due - Date.now()));
        }
        res.write(piece);
      }
      resume();
    });
    return queue;
  };
}

/**
 * Wraps `write` so the body is cut after `afterBytes`: what fits is written, then the socket is
 * destroyed, as a server or proxy that dies mid-response would leave it. `mayDrop` is asked at
 * the moment of the cut, so concurrent responses never drop more than allowed.
 */
function droppingWriter(
  res: ServerResponse,
  afterBytes: number,
  mayDrop: () => boolean,
  write: (data: Buffer) => unknown,
) {
  let sent = 0;
  let dropped = false;
  return (data: Buffer) => {
    if (dropped) return undefined;
    if (sent + data.length <= afterBytes || !mayDrop()) {
      sent += data.length;
      return write(data);
    }
    dropped = true;
    return Promise.resolve(write(data.subarray(0, afterBytes - sent))).then(() => res.socket?.destroy());
  };
}

/** Runs `git http-backend` as a CGI program for one request and relays its answer. */
function relayToHttpBackend(
  req: IncomingMessage,
  res: ServerResponse,
  projectRoot: string,
  url: URL,
  behaviour: Behaviour,
  hooks: { mayDrop: () => boolean; sent: (bytes: number) => void },
): void {
  const backend = spawn('git', ['http-backend'], {
    env: {
      PATH: process.env.PATH,
      GIT_PROJECT_ROOT: projectRoot,
      GIT_HTTP_EXPORT_ALL: '1',
      GATEWAY_INTERFACE: 'CGI/1.1',
      REQUEST_METHOD: req.method ?? 'GET',
      PATH_INFO: decodeURIComponent(behaviour.rest),
      QUERY_STRING: url.search.slice(1),
      CONTENT_TYPE: req.headers['content-type'] ?? '',
      REMOTE_USER: 'git',
      REMOTE_ADDR: req.socket.remoteAddress ?? '',
      HTTP_CONTENT_ENCODING: req.headers['content-encoding'] ?? '',
      HTTP_GIT_PROTOCOL: String(req.headers['git-protocol'] ?? ''),
    },
    stdio: ['pipe', 'pipe', 'ignore'],
  });
  req.pipe(backend.stdin);
  let head = Buffer.alloc(0);
  let headersSent = false;
  let pending = Promise.resolve<unknown>(undefined);
  const throttled = throttledWriter(
    res,
    behaviour.bytesPerSecond,
    () => backend.stdout.pause(),
    () => backend.stdout.resume(),
  );
  const isPack = req.method === 'POST' && behaviour.rest.endsWith('/git-upload-pack');
  const write =
    behaviour.drop && isPack ? droppingWriter(res, behaviour.drop.afterBytes, hooks.mayDrop, throttled) : throttled;
  const send = (data: Buffer) => {
    hooks.sent(data.length);
    pending = Promise.resolve(write(data));
  };
  res.on('close', () => backend.kill());
  backend.stdout.on('data', (chunk: Buffer) => {
    if (headersSent) {
      send(chunk);
      return;
    }
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf('\r\n\r\n');
    if (end === -1) return;
    let status = 200;
    for (const line of head.subarray(0, end).toString('latin1').split('\r\n')) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).trim();
      const value = line.slice(colon + 1).trim();
      if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10);
      else res.setHeader(name, value);
    }
    res.writeHead(status);
    headersSent = true;
    send(head.subarray(end + 4));
  });
  backend.on('close', () => {
    if (!headersSent) res.writeHead(502);
    void pending.then(() => res.end());
  });
}

/**
 * A Git smart-HTTP server for the tests: the real `git http-backend` behind a front that
 * demands the access token and answers 401 without it (or with a wrong one).
 */
export function startGitServer(options: {
  projectRoot: string;
  token: string;
  host?: '127.0.0.1' | '::1';
}): Promise<GitServer> {
  const requests = new Map<string, number[]>();
  const record = (key: string): number => {
    const seen = requests.get(key) ?? [];
    seen.push(Date.now());
    requests.set(key, seen);
    return seen.length;
  };
  const bytes = new Map<string, number>();
  /** Tokens set per key by `PUT /_token/<key>`. */
  const tokens = new Map<string, string>();
  const seen = { connections: 0, requests: 0 };
  const server = createServer((req, res) => {
    seen.requests += 1;
    const url = new URL(req.url ?? '/', 'http://git.local');
    const log = /^\/_(requests|bytes)\/([\w-]+)$/.exec(url.pathname);
    if (log) {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(log[1] === 'bytes' ? (bytes.get(log[2]!) ?? 0) : (requests.get(log[2]!) ?? [])));
      return;
    }
    const rotate = /^\/_token\/([\w-]+)$/.exec(url.pathname);
    if (rotate && req.method === 'PUT') {
      let body = '';
      req.on('data', (chunk: Buffer) => {
        body += chunk.toString('utf8');
      });
      req.on('end', () => {
        tokens.set(rotate[1]!, body);
        res.writeHead(204).end();
      });
      return;
    }
    const behaviour = parseBehaviour(url.pathname);
    if (behaviour.flaky && behaviour.rest.endsWith('/info/refs')) {
      const n = record(behaviour.flaky.key);
      if (n > behaviour.flaky.skip && n <= behaviour.flaky.skip + behaviour.flaky.count) {
        res.writeHead(503, { 'Content-Type': 'text/plain' });
        res.end('Service temporarily unavailable\n');
        return;
      }
    }
    if (behaviour.throttleStatus) {
      res.writeHead(behaviour.throttleStatus, {
        'Content-Type': 'text/plain',
        'Retry-After': '3600',
        'X-RateLimit-Remaining': '0',
      });
      res.end('API rate limit exceeded\n');
      return;
    }
    if (basicPassword(req) !== ((behaviour.tokenKey && tokens.get(behaviour.tokenKey)) || options.token)) {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="test-git"', 'Content-Type': 'text/plain' });
      res.end('Authentication required\n');
      return;
    }
    const { drop } = behaviour;
    const mayDrop = () => {
      if (!drop || (requests.get(drop.key)?.length ?? 0) >= drop.count) return false;
      record(drop.key);
      return true;
    };
    const { countKey } = behaviour;
    const sent = (n: number) => {
      if (countKey) bytes.set(countKey, (bytes.get(countKey) ?? 0) + n);
    };
    relayToHttpBackend(req, res, options.projectRoot, url, behaviour, { mayDrop, sent });
  });
  server.on('connection', () => {
    seen.connections += 1;
  });
  return new Promise((resolve) => {
    const host = options.host ?? '127.0.0.1';
    server.listen(0, host, () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://${host === '::1' ? '[::1]' : host}:${port}`,
        seen: () => ({ ...seen }),
        stop: () =>
          new Promise((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}
