import type { CommitPage } from '../code-read/commits.js';
import type { Comparison } from '../code-read/compare.js';
import type { FileContent } from '../code-read/file.js';
import type { SearchResult } from '../code-read/search.js';
import type { TreePage } from '../code-read/tree.js';

// The answers of the reads, in the API's snake_case (their schemas: src/api/read-schemas.ts).

export const treeBody = (page: TreePage, path: string) => ({
  commit: page.commit,
  path,
  entries: page.entries,
  next_cursor: page.nextCursor,
});

export const fileBody = (f: FileContent) => ({
  commit: f.commit,
  path: f.path,
  oid: f.oid,
  mode: f.mode,
  type: f.type,
  size: f.size,
  content: f.content,
  encoding: f.encoding,
  start_line: f.startLine,
  lines: f.lines,
  truncated: f.truncated,
  binary: f.binary,
  lfs_pointer: f.lfsPointer,
});

export const searchBody = (r: SearchResult) => ({ commit: r.commit, matches: r.matches, truncated: r.truncated });

export const comparisonBody = (c: Comparison) => ({
  base: c.base,
  head: c.head,
  files: c.files.map(({ previousPath, ...file }) => ({
    ...file,
    ...(previousPath === undefined ? {} : { previous_path: previousPath }),
  })),
  ...(c.patch ? { patch: c.patch } : {}),
});

export const commitPageBody = (p: CommitPage) => ({ commits: p.commits, next_cursor: p.nextCursor });
