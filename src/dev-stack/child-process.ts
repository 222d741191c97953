import type { ChildProcess } from 'node:child_process';

/** Resolves when the child has exited (immediately if it already has), or could not be started at all. */
export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    // A failed spawn emits 'error' and never 'exit'.
    child.once('error', () => {
      if (child.pid === undefined) resolve();
    });
  });
}

/** `signal` (SIGTERM by default), then SIGKILL if the child is still there after `graceMs`. */
export async function terminate(
  child: ChildProcess,
  graceMs = 5000,
  signal: NodeJS.Signals = 'SIGTERM',
): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const done = exited(child);
  child.kill(signal);
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(true), graceMs);
  });
  const late = await Promise.race([done.then(() => false), timedOut]);
  clearTimeout(timer);
  if (late) {
    child.kill('SIGKILL');
    await done;
  }
}

/** Keeps the last `limit` characters of a stream, for error messages about a child that died. */
export function tail(limit = 4000): { push(chunk: Buffer | string): void; text(): string } {
  let buffer = '';
  return {
    push(chunk) {
      buffer = (buffer + chunk.toString()).slice(-limit);
    },
    text: () => buffer.trim(),
  };
}
