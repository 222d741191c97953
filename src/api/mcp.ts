import { text } from 'node:stream/consumers';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { Hono, type HonoRequest } from 'hono';
import { z } from 'zod';
import type { Logger } from '../config/logger.js';
import type { ApiEnv } from './context.js';
import type { ApiDeps } from './deps.js';
import { ApiError } from './errors.js';
import { decodeCursor, encodeCursor } from './pagination.js';
import { repoBody } from './presenters.js';
import { readQuerySchemas, repoPath, type ReadOp } from './read-schemas.js';
import { listReposQuerySchema, uuid } from './schemas.js';
import { createCodeReadService, recordRead } from './services/code-reads.js';
import { createRepositoryService } from './services/repositories.js';
import { readStatus } from './status.js';

const json = (value: unknown): CallToolResult => ({ content: [{ type: 'text', text: JSON.stringify(value) }] });

/** A refusal as the REST API words it (its code, message and details), for the agent to read. */
function refusal(err: unknown): CallToolResult {
  if (!(err instanceof ApiError)) throw err;
  return { isError: true, ...json({ error: err.code, message: err.message, ...err.extra }) };
}

/** A tool's arguments (as its schema parsed them) as the query string of the REST read they stand for. */
function queryOf(args: Record<string, unknown>): URLSearchParams {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(args)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) query.append(name, String(v));
  }
  return query;
}

const encodedPath = (path: string) => path.split('/').map(encodeURIComponent).join('/');

/**
 * The MCP server of one request (stateless Streamable HTTP): the caller's tools, each a thin call
 * of the service behind the REST route it stands for, with the same checks, bounds and schemas.
 */
function serverFor(deps: ApiDeps, userId: string, log: Logger): McpServer {
  const server = new McpServer({ name: 'repo-connector', version: '0.1.0' });
  const repositories = createRepositoryService(deps);
  const reads = createCodeReadService(deps);
  const queries = readQuerySchemas(deps.settings.readBounds);

  /** A read of connected code through the host that holds it, accounted as the REST read is. */
  const read = async (
    op: ReadOp,
    args: Record<string, unknown> & { repo_id: string },
    signal: AbortSignal,
    subpath: string = op,
    subject: Record<string, unknown> = {},
  ) => {
    const started = performance.now();
    const { repo_id: repoId, ...rest } = args;
    const account = (status: number, outcome: string, bytes: number, resolvedCommit: string | null) =>
      recordRead(log, {
        op,
        via: 'mcp',
        repoId,
        userId,
        subject: { ...subject, ...('path' in rest ? { path: rest.path } : {}) },
        resolvedCommit,
        status,
        outcome,
        bytes,
        durationMs: Math.round(performance.now() - started),
      });
    try {
      const { upstream } = await reads.read({
        op,
        repoId,
        userId,
        subpath,
        query: queryOf(rest),
        accept: 'application/json',
        signal,
      });
      const body = await text(upstream.body);
      account(upstream.status, 'ok', Buffer.byteLength(body), upstream.headers['x-commit'] ?? null);
      return { content: [{ type: 'text' as const, text: body }] };
    } catch (err) {
      if (err instanceof ApiError) account(err.status, err.code, 0, null);
      return refusal(err);
    }
  };

  server.registerTool(
    'list_repositories',
    {
      description:
        "The caller's connected repositories (of one project, or all), oldest first, a page at a time: pass next_cursor as cursor for the next",
      inputSchema: listReposQuerySchema.extend({ project_id: uuid.optional() }),
    },
    async ({ project_id: projectId, limit, cursor }) => {
      try {
        const page = await repositories.list(projectId, userId, limit + 1, cursor ? decodeCursor(cursor) : undefined);
        const items = page.slice(0, limit);
        return json({
          repositories: items.map(repoBody),
          next_cursor: page.length > limit ? encodeCursor(items.at(-1)!) : null,
        });
      } catch (err) {
        return refusal(err);
      }
    },
  );
  server.registerTool(
    'repository_status',
    {
      description: "A repository's clone status, live progress and head commit",
      inputSchema: z.object({ repo_id: uuid }),
    },
    async ({ repo_id: repoId }) => {
      const status = await readStatus(deps, repoId, userId);
      return status ? json(status.body) : refusal(new ApiError(404, 'not_found', 'Repository not found'));
    },
  );
  /** The reads whose tool takes the REST query as it is, with the repository. */
  const readTools = [
    [
      'list_files',
      'tree',
      'The entries of a directory of a commit (head_commit by default), or all under it with recursive, paged by cursor',
    ],
    [
      'search_code',
      'search',
      "Lines of a commit's text files matching q (a fixed string, or an extended regular expression with regex), within paths when given; bounded in matches and time (truncated says so)",
    ],
    [
      'compare_commits',
      'compare',
      'The files that differ from base to head (head_commit by default), with added and deleted lines; patch=true adds the diff',
    ],
  ] as const;
  for (const [name, op, description] of readTools) {
    const inputSchema: z.ZodType<Record<string, unknown> & { repo_id: string }> = queries[op].extend({ repo_id: uuid });
    server.registerTool(name, { description, inputSchema }, (args, extra) => read(op, args, extra.signal));
  }
  server.registerTool(
    'read_file',
    {
      description:
        'A file of a commit (head_commit by default): UTF-8 text as is, else base64; up to max_bytes, cut at a line end with truncated; start_line and end_line read a range',
      inputSchema: queries.files.extend({ repo_id: uuid, path: repoPath }),
    },
    ({ path, ...args }, extra) => read('files', args, extra.signal, `files/${encodedPath(path)}`, { path }),
  );
  server.registerTool(
    'sync_repository',
    {
      description:
        "Fetches the repository's ref again now (a COMPLETED repository only); the new head commit shows in repository_status",
      inputSchema: z.object({ repo_id: uuid }),
    },
    async ({ repo_id: repoId }) => {
      try {
        const repo = await repositories.sync(repoId, userId);
        return json({ repo_id: repo.id, clone_status: repo.cloneStatus, workflow_id: repo.workflowId });
      } catch (err) {
        return refusal(err);
      }
    },
  );
  return server;
}

/** The tools that act rather than read: their calls draw from the caller's write bucket. */
const WRITE_TOOLS = new Set(['sync_repository']);

/** Whether the request is a call of a tool that acts (its JSON body, which Hono keeps for the route). */
export async function isMcpWrite(req: HonoRequest): Promise<boolean> {
  const body = (await req.json().catch(() => undefined)) as
    { method?: unknown; params?: { name?: unknown } } | undefined;
  return body?.method === 'tools/call' && typeof body.params?.name === 'string' && WRITE_TOOLS.has(body.params.name);
}

const jsonRpcError = (code: number, message: string) => ({ jsonrpc: '2.0', error: { code, message }, id: null });

/** `/mcp`: the Model Context Protocol over Streamable HTTP (stateless, JSON answers), behind the API's JWT. */
export function mcpRoutes(deps: ApiDeps) {
  return new Hono<ApiEnv>().all('/', async (c) => {
    let parsedBody: unknown;
    if (c.req.method === 'POST') {
      try {
        parsedBody = await c.req.json();
      } catch {
        return c.json(jsonRpcError(-32700, 'Parse error: the body is not JSON'), 400);
      }
      // One call per request: each is rate limited, and a batch would run up to 100 reads at once for one token.
      if (Array.isArray(parsedBody))
        return c.json(jsonRpcError(-32600, 'Batches are not accepted: send one message per request'), 400);
    }
    const server = serverFor(deps, c.get('userId'), c.get('log'));
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
    });
    await server.connect(transport);
    try {
      return await transport.handleRequest(c.req.raw, { parsedBody });
    } finally {
      await server.close();
    }
  });
}
