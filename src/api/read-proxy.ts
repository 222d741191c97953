import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

/** The read service answered: its status, the headers passed on, and the body as it streams. */
export interface Upstream {
  status: number;
  headers: Record<string, string>;
  body: IncomingMessage;
}

/** The host could not be reached, or did not answer in time: never the caller's fault, and worth asking again. */
export class HostUnreachable extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'HostUnreachable';
  }
}

/** What a host's answer may carry on to the caller; anything else (its server, its dates) stays behind. */
const PASSED_ON = ['content-type', 'content-length', 'content-disposition', 'etag', 'vary', 'retry-after', 'x-commit'];

export interface ForwardOptions {
  headers: Record<string, string>;
  /** The caller went away: the host's read is cut off too. */
  signal?: AbortSignal;
  /** To a TCP connection, then from there to the answer's status line. */
  connectTimeoutMs: number;
  answerTimeoutMs: number;
}

/** GETs `url` from a read service; rejects with HostUnreachable when no answer starts within the timeouts. */
export function forwardRead(url: URL, o: ForwardOptions, retried = false): Promise<Upstream> {
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const req = request(url, { method: 'GET', headers: o.headers, signal: o.signal });
    const giveUp = (reason: string) => req.destroy(new HostUnreachable(reason));
    timer = setTimeout(() => giveUp('no connection in time'), o.connectTimeoutMs);
    req.once('socket', (socket) => {
      const answerWait = () => {
        clearTimeout(timer);
        timer = setTimeout(() => giveUp('no answer in time'), o.answerTimeoutMs);
      };
      if (socket.connecting) socket.once('connect', answerWait);
      else answerWait();
    });
    req.once('response', (res) => {
      clearTimeout(timer);
      const headers: Record<string, string> = {};
      for (const name of PASSED_ON) {
        const value = res.headers[name];
        if (typeof value === 'string') headers[name] = value;
      }
      resolve({ status: res.statusCode ?? 502, headers, body: res });
    });
    req.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      // A kept-alive connection the host closed just as it was reused: once more, on a new one (Node's advice).
      if (req.reusedSocket && err.code === 'ECONNRESET' && !retried) resolve(forwardRead(url, o, true));
      else if (err instanceof HostUnreachable || err.name === 'AbortError') reject(err);
      else reject(new HostUnreachable(err.code ?? 'connection failed'));
    });
    req.end();
  });
}
