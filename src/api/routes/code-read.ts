import { Readable, Transform } from 'node:stream';
import { SpanStatusCode, type Span } from '@opentelemetry/api';
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { tracer } from '../../observability/trace-context.js';
import { REPO_FILE_PATTERN } from '../../shared/repo-path.js';
import type { ApiEnv } from '../context.js';
import type { ApiDeps } from '../deps.js';
import { ApiError } from '../errors.js';
import { filePathOf, readQuerySchemas, READ_OPS, repoPath, type ReadOp } from '../read-schemas.js';
import { repoParamsSchema } from '../schemas.js';
import { createCodeReadService, recordRead, type RoutedRead } from '../services/code-reads.js';
import { validate } from '../validation.js';

/** Accounts for a read once its answer has ended: its outcome, the bytes sent, the commit read. */
type Finish = (outcome: string, bytes: number, commit: string | null) => void;
type ReadEnv = ApiEnv & { Variables: { readSpan: Span; readFinish: Finish; readStreamed?: boolean } };

/** What the access log says a read was of: never what it returned. */
function readSubject(c: Context<ReadEnv>, op: ReadOp) {
  const q = c.req.query();
  if (op === 'files') return { path: filePathOf(c.req.url) ?? null, commit: q.commit ?? null };
  if (op === 'compare') return { base: q.base ?? null, head: q.head ?? null };
  if (op === 'tree') return { path: q.path ?? '', commit: q.commit ?? null };
  if (op === 'search') return { paths: c.req.queries('paths') ?? [], commit: q.commit ?? null };
  return { commit: q.commit ?? null, paths: c.req.queries('paths') ?? [] };
}

/**
 * Every read counted, timed, traced and in the access log (user, repository, commit, path,
 * bytes, milliseconds), at the end of its answer: a streamed one's last byte, or its cut-off.
 */
const accounted =
  (op: ReadOp): MiddlewareHandler<ReadEnv> =>
  async (c, next) => {
    const started = performance.now();
    const span = tracer().startSpan('code-read', { attributes: { 'read.op': op } });
    c.set('readSpan', span);
    const finish: Finish = (outcome, bytes, commit) => {
      const durationMs = Math.round(performance.now() - started);
      span.setAttributes({ 'read.outcome': outcome, 'read.bytes': bytes });
      if (outcome !== 'ok' && outcome !== 'not_modified') span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
      recordRead(c.get('log'), {
        op,
        via: 'rest',
        repoId: c.req.param('repo_id') ?? null,
        userId: c.get('userId'),
        subject: readSubject(c, op),
        resolvedCommit: commit,
        status: c.res.status,
        outcome,
        bytes,
        durationMs,
      });
    };
    c.set('readFinish', finish);
    try {
      await next();
    } finally {
      if (!c.get('readStreamed')) {
        const status = c.res.status;
        const outcome =
          status === 304
            ? 'not_modified'
            : status < 300
              ? 'ok'
              : c.error instanceof ApiError
                ? c.error.code
                : status === 422
                  ? 'validation_error'
                  : `http_${status}`;
        finish(outcome, Number(c.res.headers.get('content-length') ?? 0), c.res.headers.get('x-commit'));
      }
    }
  };

/** The host's answer, streamed on; its bytes are counted as they pass, and the read accounted when they end. */
function passOn(c: Context<ReadEnv>, routed: RoutedRead): Response {
  const { upstream } = routed;
  // No body to send (a 304, or the headers a HEAD asks for): the host's stream goes at once, and with it git.
  if (upstream.status === 304 || c.req.method === 'HEAD') {
    upstream.body.destroy();
    return c.body(null, upstream.status as 200, upstream.headers);
  }
  c.set('readStreamed', true);
  const finish = c.get('readFinish');
  let bytes = 0;
  const counted = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  let ended = false;
  const end = (outcome: string) => {
    if (ended) return;
    ended = true;
    finish(outcome, bytes, upstream.headers['x-commit'] ?? null);
  };
  counted.once('end', () => end('ok'));
  counted.once('close', () => end(counted.readableEnded ? 'ok' : 'cut_off'));
  upstream.body.once('error', () => counted.destroy());
  upstream.body.pipe(counted);
  // The caller gone: the host's stream goes too, and with it git.
  counted.once('close', () => upstream.body.destroy());
  return c.body(Readable.toWeb(counted) as ReadableStream<Uint8Array>, upstream.status as 200, upstream.headers);
}

/**
 * `GET /api/v1/code/repos/{repo_id}/{tree,files/{path},search,archive,compare,commits}`: reads of
 * connected code by commit, answered by the host that holds the clone (src/read-service).
 */
export function codeReadRoutes(deps: ApiDeps) {
  const reads = createCodeReadService(deps);
  const queries = readQuerySchemas(deps.settings.readBounds);
  const app = new Hono<ReadEnv>();

  const serve = (op: ReadOp) => async (c: Context<ReadEnv>) => {
    const repoId = c.req.param('repo_id')!;
    const routed = await reads.read({
      op,
      repoId,
      userId: c.get('userId'),
      subpath: new URL(c.req.url).pathname.replace(/^.*?\/repos\/[^/]+\//, ''),
      query: new URL(c.req.url).searchParams,
      accept: c.req.header('accept'),
      ifNoneMatch: c.req.header('if-none-match'),
      signal: c.req.raw.signal,
    });
    c.get('readSpan').setAttribute('read.host', routed.hostTaskQueue);
    if (op === 'archive' && c.req.method === 'GET') {
      await reads
        .recordArchive(
          routed.repo,
          { correlationId: c.get('requestId'), userId: c.get('userId') },
          { ...readSubject(c, op), commit: routed.upstream.headers['x-commit'] ?? null },
        )
        .catch((err: unknown) => {
          // Not recorded, not sent: the host's stream (and git) go with the refusal.
          routed.upstream.body.destroy();
          throw err;
        });
    }
    return passOn(c, routed);
  };

  /** A file path that is not one inside the repository: 422 before anything is routed. */
  const filePath: MiddlewareHandler<ReadEnv> = async (c, next) => {
    const file = filePathOf(c.req.url);
    if (file === undefined || !REPO_FILE_PATTERN.test(file) || !repoPath.safeParse(file).success) {
      const message = 'must be a file path inside the repository';
      throw new ApiError(422, 'validation_error', `path: ${message}`, { issues: [{ path: 'path', message }] });
    }
    await next();
  };
  for (const op of READ_OPS) {
    const path = op === 'files' ? '/repos/:repo_id/files/*' : `/repos/:repo_id/${op}`;
    const checkPath: MiddlewareHandler<ReadEnv> = op === 'files' ? filePath : (_c, next) => next();
    app.get(
      path,
      accounted(op),
      validate('param', repoParamsSchema),
      checkPath,
      validate('query', queries[op]),
      serve(op),
    );
  }
  return app;
}
