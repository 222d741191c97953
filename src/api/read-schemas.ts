import { z } from 'zod';
import type { ReadBounds } from '../config/env.js';
import { REPO_PATH_PATTERN, REPO_PATH_RULE } from '../shared/repo-path.js';

/** The reads of a clone: each is a GET of `/api/v1/code/repos/{repo_id}/<op>`, routed to the host that holds it. */
export const READ_OPS = ['tree', 'files', 'search', 'archive', 'compare', 'commits'] as const;
export type ReadOp = (typeof READ_OPS)[number];

export const TREE_PAGE_MAX = 1000;
export const COMMITS_PAGE_MAX = 100;
export const PATCH_MAX_BYTES = 1024 * 1024;

/** `true`/`false` in a query string; a JSON boolean from an MCP tool call. */
const flag = z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')]);
/** A commit id (or prefix), branch or tag: checked again by the reader before git sees it. */
const commitName = z
  .string()
  .min(1)
  .max(255)
  // No space or control character: what git's names and ids never hold (the reader checks the rest).
  // eslint-disable-next-line no-control-regex
  .regex(/^[^\x00-\x20\x7f]+$/, 'must be a commit id, branch or tag name');
const count = (max: number, fallback: number) => z.coerce.number().int().min(1).max(max).default(fallback);
const line = z.coerce.number().int().min(1);
/** At most 1024 characters: 4096 bytes (PATH_MAX) whatever they are. */
export const repoPath = z.string().max(1024).regex(REPO_PATH_PATTERN, REPO_PATH_RULE);
/** `paths=a&paths=b`: directories or files, literal (a comma may be in a file name). */
const paths = z
  .union([repoPath, z.array(repoPath).max(100, 'at most 100 paths')])
  .transform((v) => (Array.isArray(v) ? v : [v]))
  .optional();
const cursor = z
  .string()
  .max(8192)
  .regex(/^[A-Za-z0-9_-]+$/, 'not a cursor this API issued')
  .optional();

/** The query of each read, under the bounds the API and the read service both hold it to. */
export function readQuerySchemas(bounds: ReadBounds) {
  return {
    tree: z.strictObject({
      commit: commitName.optional(),
      path: repoPath.default(''),
      recursive: flag.default(false),
      limit: count(TREE_PAGE_MAX, 100),
      cursor,
    }),
    files: z.strictObject({
      commit: commitName.optional(),
      start_line: line.optional(),
      end_line: line.optional(),
      max_bytes: count(bounds.maxFileBytesCap, bounds.maxFileBytes),
    }),
    search: z.strictObject({
      q: z.string().min(1, 'must not be empty').max(1024),
      regex: flag.default(false),
      case: z.enum(['sensitive', 'insensitive']).default('sensitive'),
      paths,
      max_matches: count(bounds.searchMaxMatches, Math.min(100, bounds.searchMaxMatches)),
      commit: commitName.optional(),
    }),
    archive: z.strictObject({
      commit: commitName.optional(),
      paths,
      format: z.enum(['tar.gz', 'zip']).default('tar.gz'),
    }),
    compare: z.strictObject({
      base: commitName,
      head: commitName.optional(),
      patch: flag.default(false),
      patch_max_bytes: count(PATCH_MAX_BYTES, 256 * 1024),
    }),
    commits: z.strictObject({
      commit: commitName.optional(),
      limit: count(COMMITS_PAGE_MAX, 30),
      cursor,
    }),
  } satisfies Record<ReadOp, z.ZodType>;
}
export type ReadQuerySchemas = ReturnType<typeof readQuerySchemas>;
export type ReadQuery<Op extends ReadOp> = z.output<ReadQuerySchemas[Op]>;

/** The file path of a `…/repos/{repo_id}/files/{path}` URL, percent-decoded; undefined when it does not decode. */
export function filePathOf(url: string): string | undefined {
  const encoded = /\/repos\/[^/]+\/files\/(.*)$/.exec(new URL(url).pathname)?.[1];
  if (encoded === undefined) return undefined;
  try {
    return decodeURIComponent(encoded);
  } catch {
    return undefined;
  }
}

const oid = z.string().regex(/^[0-9a-f]{40}([0-9a-f]{24})?$/);
const entryType = z.enum(['blob', 'tree', 'symlink', 'submodule']);

export const treeEntrySchema = z.object({
  path: z.string(),
  type: entryType,
  mode: z.string().describe('git file mode: 100644, 100755, 120000 (symlink), 040000 (tree), 160000 (submodule)'),
  size: z.number().int().nullable().describe('Bytes of a blob or symlink; null for trees and submodules'),
  oid: oid.describe("The blob's or tree's id; for a submodule, the commit it pins"),
  target: z
    .string()
    .nullable()
    .optional()
    .describe("A symlink's target, never followed; null when longer than 4096 bytes"),
});
export const treePageSchema = z.object({
  commit: oid,
  path: z.string(),
  entries: z.array(treeEntrySchema),
  next_cursor: z.string().nullable().describe('Pass as `cursor` for the next page; null on the last'),
});
export const fileContentSchema = z.object({
  commit: oid,
  path: z.string(),
  oid: oid.describe("The blob's id (also the ETag)"),
  mode: z.string(),
  type: z.enum(['blob', 'symlink']).describe("A symlink's content is its target, never followed"),
  size: z.number().int().describe('Bytes of the whole file'),
  content: z.string(),
  encoding: z.enum(['utf-8', 'base64']).describe('UTF-8 text as is; anything else (binary, other encodings) base64'),
  start_line: z.number().int(),
  lines: z.number().int().describe('Lines in `content`; 0 for a binary file'),
  truncated: z.boolean().describe('`content` holds less than the file (or the line range): read on by range'),
  binary: z.boolean(),
  lfs_pointer: z
    .object({ oid: z.string(), size: z.number().int() })
    .nullable()
    .describe('The file is a Git LFS pointer: the object it stands for (not fetched)'),
});
export const searchResultSchema = z.object({
  commit: oid,
  matches: z.array(
    z.object({
      path: z.string(),
      line: z.number().int(),
      column: z.number().int(),
      preview: z.string().describe('At most 200 bytes of the line, around the match'),
    }),
  ),
  truncated: z.boolean().describe('The match or time bound stopped the search: there may be more'),
});
export const comparisonSchema = z.object({
  base: oid,
  head: oid,
  files: z.array(
    z.object({
      path: z.string(),
      previous_path: z.string().optional().describe('Where a renamed or copied file came from'),
      status: z.enum(['added', 'deleted', 'modified', 'renamed', 'copied', 'type_changed', 'unmerged']),
      additions: z.number().int().nullable().describe('null for a binary file'),
      deletions: z.number().int().nullable(),
    }),
  ),
  patch: z.object({ text: z.string(), truncated: z.boolean() }).optional(),
});
const signature = z.object({ name: z.string(), email: z.string(), date: z.string() });
export const commitPageSchema = z.object({
  commits: z.array(
    z.object({ oid, parents: z.array(oid), author: signature, committer: signature, subject: z.string() }),
  ),
  next_cursor: z.string().nullable(),
});
