import { isUtf8 } from 'node:buffer';
import type { Readable } from 'node:stream';
import { resolveCommit } from './commits.js';
import { CodeReadError, requireCount } from './errors.js';
import { validatePath } from './paths.js';
import { readFailure, readGit, readGitStream, stoppedBy, type ReadOptions } from './read-git.js';
import { BlobWindow, cutText, lfsPointerOf, lineCount, type LfsPointer } from './text.js';
import { entryAt } from './tree.js';

export interface FileEntry {
  /** The commit read, as a full id. */
  commit: string;
  path: string;
  /** The blob's id: what the file's content is named by (an ETag). */
  oid: string;
  mode: string;
  /** A symlink's content is its target, never followed. */
  type: 'blob' | 'symlink';
  /** Bytes of the whole blob. */
  size: number;
}

export interface FileContent extends FileEntry {
  /** Text as is when it is UTF-8; else (binary, another encoding) its bytes in base64. */
  content: string;
  encoding: 'utf-8' | 'base64';
  /** The line `content` starts at (1-based). */
  startLine: number;
  /** Lines in `content`; 0 for a binary file. */
  lines: number;
  /** `content` is less than the file (or the line range) holds: it was over maxBytes. */
  truncated: boolean;
  binary: boolean;
  lfsPointer: LfsPointer | null;
}

export interface ReadFileOptions extends ReadOptions {
  maxBytes: number;
  /** 1-based and inclusive; a binary file is read from its start whatever the range. */
  startLine?: number;
  endLine?: number;
}

async function fileAt(repoDir: string, commit: string | undefined, path: string, o: ReadOptions) {
  const oid = await resolveCommit(repoDir, commit, o);
  const file = validatePath(path);
  if (file === '') throw new CodeReadError('not_a_file', 'The path names a directory');
  const entry = await entryAt(repoDir, oid, file, o);
  if (entry.type === 'tree') throw new CodeReadError('not_a_file', 'The path names a directory');
  if (entry.type === 'submodule') throw new CodeReadError('not_a_file', 'The path names a submodule');
  return {
    commit: oid,
    path: entry.path,
    oid: entry.oid,
    mode: entry.mode,
    type: entry.type,
    size: entry.size ?? 0,
  } satisfies FileEntry;
}

function lineRange(o: ReadFileOptions): [number, number] {
  const start = o.startLine === undefined ? 1 : requireCount(o.startLine, 'startLine');
  const end = o.endLine === undefined ? Number.POSITIVE_INFINITY : requireCount(o.endLine, 'endLine');
  if (start > end) throw new CodeReadError('invalid_argument', 'startLine is after endLine');
  return [start, end];
}

/**
 * A file of the commit, from its blob: a text file's lines (all, or a range) up to maxBytes, cut
 * at a line end when one falls within them; a binary file's first maxBytes. git stops reading
 * the blob as soon as what is returned is known.
 */
export async function readFile(
  repoDir: string,
  commit: string | undefined,
  path: string,
  o: ReadFileOptions,
): Promise<FileContent> {
  const maxBytes = requireCount(o.maxBytes, 'maxBytes');
  const [startLine, endLine] = lineRange(o);
  const file = await fileAt(repoDir, commit, path, o);
  const window = new BlobWindow(maxBytes, startLine, endLine);
  try {
    await readGit(repoDir, ['cat-file', 'blob', file.oid], {
      ...o,
      maxStdoutBytes: Number.POSITIVE_INFINITY,
      onStdout: (chunk) => (window.push(chunk) ? 'enough' : undefined),
    });
  } catch (err) {
    if (!stoppedBy(err, 'enough')) throw readFailure(err);
  }
  if (window.isBinary()) {
    const bytes = window.head().subarray(0, maxBytes);
    return {
      ...file,
      content: bytes.toString('base64'),
      encoding: 'base64',
      startLine: 1,
      lines: 0,
      truncated: file.size > maxBytes,
      binary: true,
      lfsPointer: null,
    };
  }
  const range = window.range();
  const bytes = cutText(range, maxBytes);
  const utf8 = isUtf8(bytes);
  return {
    ...file,
    content: bytes.toString(utf8 ? 'utf8' : 'base64'),
    encoding: utf8 ? 'utf-8' : 'base64',
    startLine,
    lines: lineCount(bytes),
    truncated: range.length > maxBytes,
    binary: false,
    lfsPointer: lfsPointerOf(window.head()),
  };
}

/** A file's bytes as a stream (the caller caps what it sends), with what names them. */
export async function readRawFile(
  repoDir: string,
  commit: string | undefined,
  path: string,
  o: ReadOptions = {},
): Promise<FileEntry & { stream: Readable }> {
  const file = await fileAt(repoDir, commit, path, o);
  return { ...file, stream: readGitStream(repoDir, ['cat-file', 'blob', file.oid], o) };
}
