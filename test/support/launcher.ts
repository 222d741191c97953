import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { exited } from '../../src/dev-stack/child-process.js';
import { freePort } from '../../src/runtime/ports.js';

export interface Launch {
  child: ChildProcess;
  ready: { api: string; temporalUi: string };
  /** Everything it has printed so far (kept up to date until it exits). */
  output: string[];
}

/** A launcher's whole environment: its data under `dataDir`, every port free, the stack's Temporal CLI. */
export async function launcherEnv(dataDir: string, temporalCliPath: string): Promise<Record<string, string>> {
  return {
    PATH: process.env.PATH!,
    HOME: process.env.HOME ?? '/root',
    DATA_DIR: dataDir,
    PORT: String(await freePort()),
    TEMPORAL_DEV_PORT: String(await freePort()),
    TEMPORAL_DEV_UI_PORT: String(await freePort()),
    TEMPORAL_CLI_PATH: temporalCliPath,
    SANDBOX_BASE_PATH: path.join(dataDir, 'repos'),
    LOG_LEVEL: 'info',
  };
}

/** The launcher run as the README says (`npm start`) or as its program directly, as from a terminal. */
export type LaunchCommand = { cwd: string; via: 'npm' | 'node' };

function spawnLauncher(env: Record<string, string>, how: LaunchCommand): ChildProcess {
  const [program, args] =
    how.via === 'npm' ? ['npm', ['start', '--silent']] : [process.execPath, ['--import', 'tsx', 'src/dev/main.ts']];
  // Its own process group, like a program started from a terminal, so Ctrl-C can be imitated.
  return spawn(program, args, { cwd: how.cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
}

/**
 * Starts the launcher and resolves once it logs `ready:`; rejects with its output if it exits first,
 * or if it is not ready within `readyWithinMs` (then it is stopped as Ctrl-C would, so nothing is left running).
 */
export async function launch(
  env: Record<string, string>,
  how: LaunchCommand = { cwd: process.cwd(), via: 'node' },
  readyWithinMs = 150_000,
): Promise<Launch> {
  const child = spawnLauncher(env, how);
  const lines = createInterface({ input: child.stdout! });
  const output: string[] = [];
  child.stderr!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  let deadline: NodeJS.Timeout | undefined;
  const ready = await new Promise<Launch['ready']>((resolve, reject) => {
    lines.on('line', (line) => {
      output.push(line);
      if (!line.startsWith('{')) return;
      const entry = JSON.parse(line) as { msg: string; api?: string; temporalUi?: string };
      if (entry.msg.startsWith('ready:')) resolve({ api: entry.api!, temporalUi: entry.temporalUi! });
    });
    child.once('exit', (code) => reject(new Error(`launcher exited (${code}) before ready:\n${output.join('\n')}`)));
    deadline = setTimeout(() => {
      process.kill(-child.pid!, 'SIGINT');
      reject(new Error(`launcher not ready within ${readyWithinMs} ms:\n${output.join('\n')}`));
    }, readyWithinMs);
  }).finally(() => clearTimeout(deadline));
  return { child, ready, output };
}

/** The log entries at error level or above among what a launch printed. */
export function errorsLogged(output: string[]): string[] {
  return output.filter((line) => line.startsWith('{') && (JSON.parse(line) as { level: number }).level >= 50);
}

/** Runs the launcher to its end (a start-up that fails) and returns its exit code and every line it printed. */
export async function launchToEnd(
  env: Record<string, string>,
  how: LaunchCommand = { cwd: process.cwd(), via: 'node' },
): Promise<{ code: number | null; lines: string[] }> {
  const child = spawnLauncher(env, how);
  let text = '';
  child.stdout!.on('data', (chunk: Buffer) => (text += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (text += chunk.toString()));
  await exited(child);
  return { code: child.exitCode, lines: text.split('\n').filter(Boolean) };
}

/** Every live process whose ancestry leads to `root`. */
export async function descendants(root: number): Promise<number[]> {
  const parents = new Map<number, number>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] && fields[0] !== 'Z') parents.set(Number(entry), Number(fields[1]));
  }
  const found: number[] = [];
  const visit = (pid: number) => {
    for (const [child, parent] of parents)
      if (parent === pid) {
        found.push(child);
        visit(child);
      }
  };
  visit(root);
  return found;
}

export async function alive(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  return stat !== undefined && stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
}

/** The processes among `pids` still alive. */
export async function survivors(pids: number[]): Promise<number[]> {
  const left = [];
  for (const pid of pids) if (await alive(pid)) left.push(pid);
  return left;
}

/**
 * SIGTERM to the launcher, or Ctrl-C: SIGINT to its whole process group, servers included.
 * Returns the exit code, or the signal's name when it died of one (npm re-raises the signal it got).
 */
export async function stop(
  child: ChildProcess,
  how: 'SIGTERM' | 'Ctrl-C' = 'SIGTERM',
): Promise<number | string | null> {
  if (how === 'Ctrl-C') process.kill(-child.pid!, 'SIGINT');
  else child.kill('SIGTERM');
  await exited(child);
  return child.exitCode ?? child.signalCode;
}

/** Ctrl-C, then SIGKILL to the whole process group if it has not ended within `graceMs`: cleanup that always ends. */
export async function stopGroup(child: ChildProcess, graceMs = 20_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), graceMs)));
  const outcome = await Promise.race([stop(child, 'Ctrl-C'), late]).finally(() => clearTimeout(timer));
  if (outcome === 'late') {
    process.kill(-child.pid!, 'SIGKILL');
    await exited(child);
  }
}
