import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { exited } from '../../src/dev-stack/child-process.js';

const READY_TIMEOUT_MS = 60_000;

/**
 * Runs an entry point from the sources (`node --import tsx <entry>`) as its own OS process, as
 * `npm run start:api` / `start:worker` would, and resolves with the first JSON log line whose
 * message is `readyMessage`. The child goes into `started` at once, so the caller can kill it
 * even if it never becomes ready. Its stdout keeps being read, so it never blocks on a full pipe.
 */
export async function startEntryPoint(
  started: ChildProcess[],
  entry: string,
  env: Record<string, string>,
  readyMessage: string,
): Promise<{ child: ChildProcess; ready: Record<string, unknown> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', entry], {
    env: { ...env, PATH: process.env.PATH! },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  started.push(child);
  let timer: NodeJS.Timeout | undefined;
  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      const logged = parseLogLine(line);
      if (logged?.msg === readyMessage) resolve(logged);
    });
    child.once('exit', (code, signal) => reject(new Error(`${entry} exited before it was ready (${code ?? signal})`)));
    // A child that never says it is ready (a log level that hides the message, say) fails here, not at the test's timeout.
    timer = setTimeout(
      () => reject(new Error(`${entry} did not log "${readyMessage}" within ${READY_TIMEOUT_MS / 1000} s`)),
      READY_TIMEOUT_MS,
    );
  }).finally(() => clearTimeout(timer));
  return { child, ready };
}

function parseLogLine(line: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/** SIGKILLs every process in `started` that is still running, and waits until each has exited. */
export async function killAll(started: ChildProcess[]): Promise<void> {
  await Promise.all(
    started.map(async (child) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exited(child);
    }),
  );
}

/** Pids of live processes (this one aside) whose command line contains `text`: a git still at work on a sandbox, say. */
export async function processesMentioning(text: string): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(text)) found.push(Number(entry));
  }
  return found;
}
