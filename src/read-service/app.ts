import { existsSync } from 'node:fs';
import path from 'node:path';
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { errorBody } from '../api/errors.js';
import { filePathOf, readQuerySchemas, type ReadOp } from '../api/read-schemas.js';
import { validate } from '../api/validation.js';
import { archive } from '../code-read/archive.js';
import { listCommits } from '../code-read/commits.js';
import { compare } from '../code-read/compare.js';
import { CodeReadError } from '../code-read/errors.js';
import { readFile, readRawFile } from '../code-read/file.js';
import { searchTree } from '../code-read/search.js';
import { listTree } from '../code-read/tree.js';
import type { ReadBounds } from '../config/env.js';
import type { Logger } from '../config/logger.js';
import { ReadTokenRefused, verifyReadToken, type ReadGrant } from '../crypto/read-token.js';
import type { Sql } from '../db/client.js';
import { findOwnedRepo } from '../db/repos.js';
import { sandboxPaths } from '../sandbox/sandbox.js';
import { GONE_MESSAGE, notReadyMessage, readabilityOf } from '../shared/repo-eligibility.js';
import { streamBody } from './bodies.js';
import { fileBody, searchBody, treeBody, comparisonBody, commitPageBody } from './presenters.js';

export interface ReadServiceDeps {
  sql: Sql;
  /** READ_SERVICE_SECRET: only the API, which signs with it, is answered. */
  secret: string;
  /** This host's task queue: the rows it serves name it, and the API's tokens are signed for it. */
  hostTaskQueue: string;
  sandboxBasePath: string;
  bounds: ReadBounds;
  /** Reads served at once; more are answered 503 read_busy. */
  concurrency: number;
  logger: Logger;
}

export type ReadEnv = {
  Variables: {
    grant: ReadGrant;
    repoDir: string;
    /** Gives back the read's slot: when the handler returns, or a streamed answer's stream ends. */
    release: () => void;
    streaming?: boolean;
  };
};

/** `If-None-Match` as HTTP reads it: `*`, or a list of tags compared weakly. */
function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
}

const fail = (c: Context, status: ContentfulStatusCode, code: string, message: string, headers = {}) =>
  c.json(errorBody(code, message), status, headers);

/**
 * The read service of one worker host: the API's reads of the clones on this host's disk, each
 * with a token the API signed for this host and repository. It checks again what the API
 * checked (the row is the user's, COMPLETED, and on this host's disk) and reads git's objects only.
 */
export function createReadServiceApp(deps: ReadServiceDeps) {
  const queries = readQuerySchemas(deps.bounds);
  let inFlight = 0;

  const authenticate: MiddlewareHandler<ReadEnv> = async (c, next) => {
    const header = c.req.header('authorization') ?? '';
    const token = /^Bearer ([\w.-]+)$/.exec(header)?.[1];
    if (!token) return fail(c, 401, 'unauthorized', 'A token of the API is required');
    try {
      c.set('grant', await verifyReadToken(deps.secret, deps.hostTaskQueue, token));
    } catch (err) {
      if (err instanceof ReadTokenRefused) return fail(c, 401, 'unauthorized', err.message);
      throw err;
    }
    await next();
  };

  const onThisDisk: MiddlewareHandler<ReadEnv> = async (c, next) => {
    const grant = c.get('grant');
    const repoId = c.req.param('repo_id') ?? '';
    if (grant.repoId !== repoId) return fail(c, 403, 'forbidden', 'The token is for another repository');
    const repo = await findOwnedRepo(deps.sql, repoId, grant.userId);
    if (!repo) return fail(c, 404, 'not_found', 'Repository not found');
    const readability = readabilityOf(repo.cloneStatus, repo.disconnectedAt !== null);
    if (readability === 'gone') return fail(c, 410, 'gone', GONE_MESSAGE);
    if (readability === 'not_ready') return fail(c, 409, 'not_ready', notReadyMessage(repo.cloneStatus));
    const { repository } = sandboxPaths(deps.sandboxBasePath, repo.projectId, repo.id);
    const here =
      repo.hostTaskQueue === deps.hostTaskQueue &&
      repo.sandboxPath !== null &&
      path.resolve(repo.sandboxPath) === repository &&
      existsSync(path.join(repository, '.git'));
    if (!here) return fail(c, 421, 'not_on_this_host', "The repository's clone is not on this host");
    if (inFlight >= deps.concurrency)
      return fail(c, 503, 'read_busy', 'This host is serving as many reads as it may; try again', {
        'Retry-After': '1',
      });
    inFlight += 1;
    let released = false;
    c.set('release', () => {
      if (released) return;
      released = true;
      inFlight -= 1;
    });
    c.set('repoDir', repository);
    try {
      await next();
    } finally {
      if (!c.get('streaming')) c.get('release')();
    }
  };

  const signal = (c: Context) => c.req.raw.signal;
  const app = new Hono<ReadEnv>();
  app.use('*', authenticate);
  app.use('/repos/:repo_id/*', onThisDisk);
  const route = <Op extends ReadOp>(op: Op) => `/repos/:repo_id/${op}` as const;

  app.get(route('tree'), validate('query', queries.tree), async (c) => {
    const q = c.req.valid('query');
    const page = await listTree(c.get('repoDir'), q.commit, { ...q, signal: signal(c) });
    return c.json(treeBody(page, q.path), 200, { 'X-Commit': page.commit });
  });

  app.get('/repos/:repo_id/files/*', validate('query', queries.files), async (c) => {
    const q = c.req.valid('query');
    const file = filePathOf(c.req.url);
    if (file === undefined) return fail(c, 422, 'invalid_path', 'The file path is not well formed');
    const dir = c.get('repoDir');
    const ifNoneMatch = c.req.header('if-none-match');
    if ((c.req.header('accept') ?? '').includes('application/octet-stream')) {
      const raw = await readRawFile(dir, q.commit, file, { signal: signal(c) });
      // The raw bytes are the blob: its id names them, whatever the commit.
      const headers = { ETag: `"${raw.oid}"`, Vary: 'Accept', 'X-Commit': raw.commit };
      if (etagMatches(ifNoneMatch, headers.ETag)) {
        raw.stream.destroy();
        return c.body(null, 304, headers);
      }
      return streamBody(c, raw.stream, deps.bounds.archiveMaxBytes, {
        ...headers,
        'Content-Type': 'application/octet-stream',
        'Content-Length': String(raw.size),
      });
    }
    const read = await readFile(dir, q.commit, file, {
      maxBytes: q.max_bytes,
      startLine: q.start_line,
      endLine: q.end_line,
      signal: signal(c),
    });
    // The JSON names its commit too: the same blob at another commit is another answer.
    const headers = { ETag: `"${read.oid}.${read.commit}"`, Vary: 'Accept', 'X-Commit': read.commit };
    if (etagMatches(ifNoneMatch, headers.ETag)) return c.body(null, 304, headers);
    return c.json(fileBody(read), 200, headers);
  });

  app.get(route('search'), validate('query', queries.search), async (c) => {
    const q = c.req.valid('query');
    const result = await searchTree(c.get('repoDir'), q.commit, {
      query: q.q,
      regex: q.regex,
      caseSensitive: q.case === 'sensitive',
      paths: q.paths,
      maxMatches: q.max_matches,
      timeoutMs: deps.bounds.searchTimeoutMs,
      signal: signal(c),
    });
    return c.json(searchBody(result), 200, { 'X-Commit': result.commit });
  });

  app.get(route('archive'), validate('query', queries.archive), async (c) => {
    const q = c.req.valid('query');
    const out = await archive(c.get('repoDir'), q.commit, { paths: q.paths, format: q.format, signal: signal(c) });
    const name = `${c.req.param('repo_id')}-${out.commit.slice(0, 12)}.${q.format}`;
    return streamBody(c, out.stream, deps.bounds.archiveMaxBytes, {
      'Content-Type': q.format === 'zip' ? 'application/zip' : 'application/gzip',
      'Content-Disposition': `attachment; filename="${name}"`,
      'X-Commit': out.commit,
    });
  });

  app.get(route('compare'), validate('query', queries.compare), async (c) => {
    const q = c.req.valid('query');
    const head = q.head ?? 'HEAD';
    const result = await compare(c.get('repoDir'), q.base, head, {
      signal: signal(c),
      ...(q.patch ? { patchMaxBytes: q.patch_max_bytes } : {}),
    });
    return c.json(comparisonBody(result), 200, { 'X-Commit': result.head });
  });

  app.get(route('commits'), validate('query', queries.commits), async (c) => {
    const q = c.req.valid('query');
    const page = await listCommits(c.get('repoDir'), {
      from: q.commit,
      limit: q.limit,
      cursor: q.cursor,
      signal: signal(c),
    });
    return c.json(commitPageBody(page));
  });

  app.notFound((c) => fail(c, 404, 'unknown_read', 'No such read'));
  app.onError((err, c) => {
    // The API gave up on the read (its caller left): git was stopped on purpose, nobody is there to answer.
    if (c.req.raw.signal.aborted) return fail(c, 500, 'read_failed', 'The read was abandoned');
    if (err instanceof CodeReadError) {
      if (err.status >= 500) deps.logger.warn({ err: { code: err.code, cause: String(err.cause) } }, 'read failed');
      return fail(c, err.status as ContentfulStatusCode, err.code, err.message);
    }
    deps.logger.error({ err: { name: err.name, message: err.message } }, 'read failed');
    return fail(c, 500, 'internal_error', 'The read failed');
  });
  return app;
}
