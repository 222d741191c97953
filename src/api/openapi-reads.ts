import type { ReadBounds } from '../config/env.js';
import { REPO_FILE_PATTERN } from '../shared/repo-path.js';
import {
  authed,
  bytes,
  error,
  everyResponse,
  header,
  json,
  ok,
  queryParameters,
  reading,
  uuidParam,
} from './openapi-responses.js';
import {
  commitPageSchema,
  comparisonSchema,
  fileContentSchema,
  readQuerySchemas,
  searchResultSchema,
  treePageSchema,
  type ReadOp,
} from './read-schemas.js';

const commitHeader = {
  'X-Commit': header(false, 'The full id of the commit read (the one `commit` named, else head_commit)', {
    type: 'string',
    pattern: '^[0-9a-f]{40}([0-9a-f]{24})?$',
  }),
};
const etag = {
  ETag: header(
    true,
    "The raw bytes': the blob's id, quoted; the JSON's: `\"<blob id>.<commit>\"`. Send it as If-None-Match",
    {
      type: 'string',
    },
  ),
  Vary: header(true, '`Accept`: the JSON and the raw bytes are two answers', { type: 'string' }),
};
const retryAfter = (description: string) => ({
  'Retry-After': header(false, description, { type: 'string', pattern: '^[0-9]{1,10}$' }),
});

/** What every read can answer beyond its own success. */
const readErrors = {
  ...reading,
  404: error(
    "No such repository of the caller's (`not_found`), commit in its clone (`commit_not_found`) or path in the commit (`path_not_found`)",
  ),
  409: error(
    'The clone is not COMPLETED yet (`not_ready`, with `clone_status`, `stage`, `progress_percent`, `progress_message`; Retry-After while it runs)',
    retryAfter('Seconds to wait while the clone runs; absent when it FAILED (retry it)'),
  ),
  410: error('The repository was cleaned up or disconnected (`gone`): its code is no longer held'),
  503: error(
    'The worker host that holds the clone is unavailable (`host_unavailable`) or at its read limit (`read_busy`): try again',
    retryAfter('Seconds to wait'),
  ),
};

/** The reads of connected code: `/api/v1/code/repos/{repo_id}/…`, by commit, served by the host that holds the clone. */
export function readPaths(bounds: ReadBounds) {
  const queries = readQuerySchemas(bounds);
  const read = (
    op: ReadOp,
    summary: string,
    description: string,
    responses: Record<string, unknown>,
    more: unknown[] = [],
  ) => ({
    get: {
      ...authed,
      summary,
      description,
      parameters: [uuidParam('repo_id'), ...more, ...queryParameters(queries[op])],
      responses: { ...responses, ...readErrors },
    },
  });
  const pinned =
    "`commit` (an id, branch or tag the clone holds) defaults to the row's head_commit; any commit the clone holds stays readable after a sync moves head_commit. Read from git's objects, never the working tree.";
  return {
    '/api/v1/code/repos/{repo_id}/tree': read(
      'tree',
      'List the tree of a commit',
      `Entries under \`path\` (one directory level, or all with \`recursive\`), in git's order, \`limit\` at a time; pass \`next_cursor\` as \`cursor\` for the next page. Symlinks come with their target, never followed; submodules with the commit they pin. ${pinned}`,
      { 200: ok('A page of entries', treePageSchema, commitHeader) },
    ),
    '/api/v1/code/repos/{repo_id}/files/{path}': read(
      'files',
      'Read a file of a commit',
      `The file's text as JSON (UTF-8 as is, anything else base64) up to \`max_bytes\` (READ_MAX_FILE_BYTES by default, at most READ_MAX_FILE_BYTES_CAP), cut at a line end with \`truncated\`; a line range reads on. With \`Accept: application/octet-stream\`, the raw bytes. The ETag is the blob's id (with the commit, for the JSON): If-None-Match with it answers 304. A symlink's content is its target. ${pinned}`,
      {
        200: {
          ...ok('The file', fileContentSchema, { ...commitHeader, ...etag }),
          content: { ...json(fileContentSchema), ...bytes('', ['application/octet-stream']).content },
        },
        304: { description: 'Not modified: If-None-Match named this blob', headers: { ...everyResponse, ...etag } },
      },
      [
        {
          name: 'path',
          in: 'path',
          required: true,
          schema: { type: 'string', maxLength: 1024, pattern: REPO_FILE_PATTERN.source },
          description: 'The file, e.g. `src/a.ts` (`/` as is or as %2F); `..`, `.`, empty segments and NUL are 422',
        },
        { name: 'If-None-Match', in: 'header', required: false, schema: { type: 'string' } },
        {
          name: 'Accept',
          in: 'header',
          required: false,
          schema: { type: 'string', enum: ['application/json', 'application/octet-stream'] },
        },
      ],
    ),
    '/api/v1/code/repos/{repo_id}/search': read(
      'search',
      'Search the text files of a commit',
      `\`git grep\` on the commit's tree: \`q\` a fixed string (an extended regular expression with \`regex=true\`), one match per line, within \`paths\` (repeat the parameter) when given, up to \`max_matches\` and READ_SEARCH_TIMEOUT_MS: either stops the search with \`truncated\`. ${pinned}`,
      { 200: ok('The matches', searchResultSchema, commitHeader) },
    ),
    '/api/v1/code/repos/{repo_id}/archive': read(
      'archive',
      'Download a commit as an archive',
      `\`git archive\` of the commit (of \`paths\` within it, repeat the parameter), streamed; cut off past the repository's size budget (MAX_REPO_SIZE_MB). Each download is in the audit trail. ${pinned}`,
      {
        200: bytes('The archive', ['application/gzip', 'application/zip'], {
          ...commitHeader,
          'Content-Disposition': header(true, '`attachment` with a file name', { type: 'string' }),
        }),
      },
    ),
    '/api/v1/code/repos/{repo_id}/compare': read(
      'compare',
      'Compare two commits',
      'The files that differ from `base` to `head` (head_commit by default): the two trees, renames found, with added and deleted lines; with `patch=true`, the unified diff up to `patch_max_bytes`.',
      { 200: ok('The changed files', comparisonSchema, commitHeader) },
    ),
    '/api/v1/code/repos/{repo_id}/commits': read(
      'commits',
      'List the history the clone holds',
      'Commits from `commit` (head_commit by default) back, newest first, `limit` at a time; a cursor keeps its pages in place while head_commit moves.',
      { 200: ok('A page of commits', commitPageSchema) },
    ),
  };
}
