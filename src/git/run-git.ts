import { spawn } from 'node:child_process';
import { Readable } from 'node:stream';
import { packBudgetEnvironment } from './pack-budget.js';
import { parseProgress, type GitProgress } from './progress.js';

export interface RunGitOptions {
  args: string[];
  env: Record<string, string>;
  cwd?: string;
  /** Kill git when it has written nothing to stderr or stdout for this long. */
  idleTimeoutMs: number;
  signal?: AbortSignal;
  /** RLIMIT_FSIZE for git and its children: no single file it writes may grow past this. */
  maxFileBytes?: number;
  /**
   * Run with SIGXFSZ ignored (inherited through exec), so a write past maxFileBytes fails with
   * EFBIG, which the writer reports ("File too large"), instead of killing it silently. For
   * fetches, whose writer (index-pack) is a grandchild: its death by signal is never reported.
   */
  reportFileSizeCap?: boolean;
  /** What the pack and its index together may take: index-pack runs capped accordingly (see pack-budget.ts). */
  packBudgetBytes?: number;
  onProgress?: (progress: GitProgress) => void;
  /**
   * Bulk work (a clone): git runs at a lower CPU priority (nice 10), so on a busy host the size
   * probes a caller is waiting on, and the worker itself, are served first.
   */
  background?: boolean;
  /** What of stdout may be read into memory (default DEFAULT_MAX_STDOUT_BYTES); past it git is killed. */
  maxStdoutBytes?: number;
  /** Written to git's stdin, which is then closed (e.g. `update-ref --stdin` instructions). */
  stdin?: string;
  /** Reads stdout as it comes instead of keeping it (runGit resolves with ''); a returned reason kills git at once. */
  onStdout?: (chunk: Buffer) => string | undefined;
  /** Polled while git runs; a returned reason kills git at once. */
  watch?: { intervalMs: number; check: () => Promise<string | undefined> };
}

export class GitProcessError extends Error {
  constructor(
    /** Why git ended: its own failure, or which of our limits stopped it. */
    readonly reason: 'failed' | 'timeout' | 'aborted' | 'watch' | 'output',
    /** Tail of git's stderr: may hold URLs and paths, so it is classified, never shown as is. */
    readonly stderr: string,
    readonly exitCode: number | null,
    readonly watchReason?: string,
    /** The signal that ended git itself, e.g. SIGXFSZ from the file-size cap. */
    readonly signal: NodeJS.Signals | null = null,
  ) {
    super(`git ${reason}${exitCode === null ? '' : ` (exit ${exitCode})`}`);
    this.name = 'GitProcessError';
  }
}

/**
 * git behind wrappers that exec it: util-linux's `setpriv --pdeathsig KILL` so git dies with
 * the worker (a killed worker must not leave a clone writing into a sandbox its retry is about
 * to reuse) and `prlimit --fsize` for the per-file size cap, coreutils' `env --ignore-signal`
 * so the cap can be reported (see reportFileSizeCap), and `nice` for background work. Always:
 * a process that runs git has checked at start-up that each works (requirements.ts).
 */
function commandLine(o: RunGitOptions): [string, string[]] {
  let argv = ['git', ...o.args];
  if (o.maxFileBytes !== undefined && o.reportFileSizeCap) argv = ['env', '--ignore-signal=XFSZ', '--', ...argv];
  if (o.maxFileBytes !== undefined) argv = ['prlimit', `--fsize=${Math.floor(o.maxFileBytes)}`, '--', ...argv];
  if (o.background) argv = ['nice', '-n', '10', '--', ...argv];
  argv = ['setpriv', '--pdeathsig', 'KILL', '--', ...argv];
  return [argv[0]!, argv.slice(1)];
}

/**
 * What of git's stdout is kept in memory when the caller sets no cap: ref listings of the
 * largest public repositories (~250k refs with pull-request refs, ~20 MB) and the tree of a
 * MAX_REPO_FILES (100k) checkout at ordinary path lengths (~15 MB) fit; a server that streams
 * refs without end is cut off here, with ADMISSION_CONCURRENCY probes reading at once.
 */
export const DEFAULT_MAX_STDOUT_BYTES = 32 * 1024 * 1024;

/**
 * How much of git's stderr is kept: the end, where git says why it stopped, with room for a
 * screen of progress lines before it. Whatever the server relays as `remote:` lines, no more.
 */
const STDERR_TAIL_CHARS = 8192;

/**
 * Runs git with a fixed argument vector in its own process group, so a timeout, a
 * cancellation or a tripped limit kills git and every helper it started (remote-https,
 * index-pack). Resolves with stdout; rejects with GitProcessError.
 */
export async function runGit(o: RunGitOptions): Promise<string> {
  return (await runGitBytes(o)).toString();
}

/** runGit, with stdout as the bytes git wrote (a blob's content need not be text). */
export async function runGitBytes(o: RunGitOptions): Promise<Buffer> {
  const kept: Buffer[] = [];
  await superviseGit(o, {
    chunk:
      o.onStdout ??
      ((chunk) => {
        kept.push(chunk);
        return undefined;
      }),
  });
  return Buffer.concat(kept);
}

/**
 * runGit with stdout as a stream, read at the reader's pace (git is paused while the reader is
 * behind, and a reader that takes nothing for idleTimeoutMs is cut off). Destroying the stream
 * kills git; git's failure destroys the stream with its GitProcessError. No stdout cap unless given.
 */
export function gitStream(o: Omit<RunGitOptions, 'onStdout'>): Readable {
  const stop = new AbortController();
  let stdout: Readable | undefined;
  const out = new Readable({
    read: () => stdout?.resume(),
    destroy: (err, callback) => {
      stop.abort();
      callback(err);
    },
  });
  const signal = o.signal ? AbortSignal.any([o.signal, stop.signal]) : stop.signal;
  superviseGit(
    { ...o, signal, maxStdoutBytes: o.maxStdoutBytes ?? Number.POSITIVE_INFINITY },
    {
      started: (s) => (stdout = s),
      chunk: (chunk) => {
        if (!out.push(chunk)) stdout?.pause();
        return undefined;
      },
    },
  ).then(
    () => out.push(null),
    (err: unknown) => out.destroy(err as Error),
  );
  return out;
}

interface StdoutSink {
  /** Each chunk of stdout as it comes; a returned reason kills git at once. */
  chunk: (chunk: Buffer) => string | undefined;
  /** git's stdout once it has started, for a sink that pauses it. */
  started?: (stdout: Readable) => void;
}

async function superviseGit(o: RunGitOptions, sink: StdoutSink): Promise<void> {
  if (o.signal?.aborted) throw new GitProcessError('aborted', '', null);
  const [command, args] = commandLine(o);
  const env = o.packBudgetBytes !== undefined ? await packBudgetEnvironment(o.env, o.packBudgetBytes) : o.env;
  const maxStdoutBytes = o.maxStdoutBytes ?? DEFAULT_MAX_STDOUT_BYTES;
  const child = spawn(command, args, { cwd: o.cwd, env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  // Empty unless given, as /dev/null was; a git that exits before reading it all closes the pipe, and its exit status says why.
  child.stdin.on('error', () => {});
  child.stdin.end(o.stdin ?? '');
  sink.started?.(child.stdout);

  return new Promise<void>((resolve, reject) => {
    let stdoutBytes = 0;
    let stderr = '';
    let ended: GitProcessError['reason'] | undefined;
    let watchReason: string | undefined;
    let idle: NodeJS.Timeout;
    let closed = false;
    const kill = (reason: NonNullable<typeof ended>) => {
      // Once closed, its process group id may already belong to someone else.
      if (closed) return;
      ended ??= reason;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    const touch = () => {
      clearTimeout(idle);
      idle = setTimeout(() => kill('timeout'), o.idleTimeoutMs);
    };
    touch();
    const onAbort = () => kill('aborted');
    o.signal?.addEventListener('abort', onAbort, { once: true });
    // One check at a time: on a busy host a check can outlast the interval, and they must not pile up.
    let poll: NodeJS.Timeout | undefined;
    const watch = o.watch;
    const schedule = () => {
      if (!watch || ended || closed) return;
      poll = setTimeout(() => {
        watch
          .check()
          .then(
            (reason) => {
              if (reason && !ended) {
                watchReason = reason;
                kill('watch');
              }
            },
            () => {},
          )
          .finally(schedule);
      }, watch.intervalMs);
    };
    schedule();

    child.stdout.on('data', (chunk: Buffer) => {
      touch();
      if (ended) return;
      stdoutBytes += chunk.length;
      if (stdoutBytes > maxStdoutBytes) {
        kill('output');
        return;
      }
      const reason = sink.chunk(chunk);
      if (reason) {
        watchReason = reason;
        kill('watch');
      }
    });
    child.stderr.on('data', (chunk: Buffer) => {
      touch();
      const text = chunk.toString();
      stderr = (stderr + text).slice(-STDERR_TAIL_CHARS);
      if (!o.onProgress) return;
      for (const line of text.split(/[\r\n]+/)) {
        const progress = parseProgress(line);
        if (progress) o.onProgress(progress);
      }
    });
    child.on('error', (err) => {
      ended ??= 'failed';
      stderr += `\n${err.message}`;
    });
    child.on('close', (code, signal) => {
      closed = true;
      clearTimeout(idle);
      clearTimeout(poll);
      o.signal?.removeEventListener('abort', onAbort);
      if (!ended && code === 0) resolve();
      else reject(new GitProcessError(ended ?? 'failed', stderr, code, watchReason, signal));
    });
  });
}
