import path from 'node:path';
import type { Readable } from 'node:stream';
import { gitEnvironment } from '../git/git-env.js';
import { GitProcessError, gitStream, runGitBytes, type RunGitOptions } from '../git/run-git.js';
import { CodeReadError } from './errors.js';

export interface ReadOptions {
  /** The caller's request: aborting it kills git. */
  signal?: AbortSignal;
  /** Kill git when it has written nothing for this long (a stream: when its reader has taken nothing). */
  idleTimeoutMs?: number;
}

export const READ_IDLE_TIMEOUT_MS = 30_000;

type GitRead = ReadOptions & Pick<RunGitOptions, 'onStdout' | 'maxStdoutBytes' | 'stdin'>;

/**
 * git as every read runs it: the hardened environment of every git process, replace refs ignored
 * (an oid reads what it names), pathspecs literal (`*` and `:(…)` are file names), and the
 * clone's .git directory as both GIT_DIR and cwd, so git finds no working-tree file
 * (.gitattributes, .mailmap) to read: what a read returns comes from the object database only,
 * whatever a sync is doing to the checkout. With cwd there, `--` must end every revision list.
 */
function readerOptions(repoDir: string, args: string[], o: GitRead): RunGitOptions {
  const gitDir = path.join(path.resolve(repoDir), '.git');
  return {
    signal: o.signal,
    onStdout: o.onStdout,
    maxStdoutBytes: o.maxStdoutBytes,
    stdin: o.stdin,
    args: [`--git-dir=${gitDir}`, ...args],
    cwd: gitDir,
    env: { ...gitEnvironment({ allowHttp: false }), GIT_NO_REPLACE_OBJECTS: '1', GIT_LITERAL_PATHSPECS: '1' },
    idleTimeoutMs: o.idleTimeoutMs ?? READ_IDLE_TIMEOUT_MS,
  };
}

/** git's stdout as bytes; rejects with GitProcessError for the caller to classify (see readFailure). */
export const readGit = (repoDir: string, args: string[], o: GitRead = {}): Promise<Buffer> =>
  runGitBytes(readerOptions(repoDir, args, o));

/** git's stdout as a stream, read at the reader's pace; destroying it kills git. */
export const readGitStream = (repoDir: string, args: string[], o: ReadOptions = {}): Readable =>
  gitStream(readerOptions(repoDir, args, o));

/** git stopped by its stdout handler's own reason (enough read): a success. */
export const stoppedBy = (err: unknown, reason: string): boolean =>
  err instanceof GitProcessError && err.reason === 'watch' && err.watchReason === reason;

/** git exited with this status by its own choice (e.g. 1: no match, no such revision). */
export const exitedWith = (err: unknown, code: number): boolean =>
  err instanceof GitProcessError && err.reason === 'failed' && err.exitCode === code;

/** What an unexpected git failure becomes: the caller's own abort as is, anything else read_failed. */
export function readFailure(err: unknown): unknown {
  if (!(err instanceof GitProcessError) || err.reason === 'aborted') return err;
  const message =
    err.reason === 'timeout'
      ? 'git stopped answering'
      : err.reason === 'output'
        ? 'The answer is larger than a read may hold'
        : 'git could not read the repository';
  return new CodeReadError('read_failed', message, { cause: err });
}
