import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { randomUUID } from 'node:crypto';
import { chmod, mkdir, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, inject, it } from 'vitest';
import { freePort } from '../../src/infra/ports.js';
import { exited } from '../../src/infra/child-process.js';

const stack = inject('stack');
const run = promisify(execFile);

interface Launch {
  child: ChildProcess;
  ready: { api: string; temporalUi: string };
}

/** `npm start`'s program, with no DATABASE_URL or TEMPORAL_ADDRESS: everything embedded. */
async function launch(env: Record<string, string>): Promise<Launch> {
  // Its own process group, like a program started from a terminal, so Ctrl-C can be imitated.
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/dev/main.ts'], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const lines = createInterface({ input: child.stdout! });
  const output: string[] = [];
  const ready = await new Promise<Launch['ready']>((resolve, reject) => {
    lines.on('line', (line) => {
      output.push(line);
      const entry = JSON.parse(line) as { msg: string; api?: string; temporalUi?: string };
      if (entry.msg.startsWith('ready:')) resolve({ api: entry.api!, temporalUi: entry.temporalUi! });
    });
    child.once('exit', (code) => reject(new Error(`launcher exited (${code}) before ready:\n${output.join('\n')}`)));
  });
  return { child, ready };
}

/** Every live process whose ancestry leads to `root`. */
async function descendants(root: number): Promise<number[]> {
  const parents = new Map<number, number>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] && fields[0] !== 'Z') parents.set(Number(entry), Number(fields[1]));
  }
  const found: number[] = [];
  const visit = (pid: number) => {
    for (const [child, parent] of parents) if (parent === pid) found.push(child), visit(child);
  };
  visit(root);
  return found;
}

async function alive(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  return stat !== undefined && stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
}

/** SIGTERM to the launcher, or Ctrl-C: SIGINT to its whole process group, servers included. */
async function stop(child: ChildProcess, how: 'SIGTERM' | 'Ctrl-C' = 'SIGTERM'): Promise<number | null> {
  if (how === 'Ctrl-C') process.kill(-child.pid!, 'SIGINT');
  else child.kill('SIGTERM');
  await exited(child);
  return child.exitCode;
}

describe('npm start (embedded defaults)', () => {
  it('serves API, Temporal UI and readiness, stops cleanly on SIGTERM and on Ctrl-C, and keeps data across a restart', async () => {
    const dataDir = path.join(stack.workDir, `dev-${randomUUID()}`);
    await mkdir(dataDir);
    await chmod(dataDir, 0o755);
    const env = {
      PATH: process.env.PATH!,
      DATA_DIR: dataDir,
      PORT: String(await freePort()),
      TEMPORAL_DEV_PORT: String(await freePort()),
      TEMPORAL_DEV_UI_PORT: String(await freePort()),
      TEMPORAL_CLI_PATH: stack.temporalCliPath,
      SANDBOX_BASE_PATH: path.join(dataDir, 'repos'),
      LOG_LEVEL: 'info',
    };

    const first = await launch(env);
    expect((await fetch(`${first.ready.api}/readyz`)).status).toBe(200);
    expect((await fetch(first.ready.temporalUi)).status).toBe(200);
    // `npm run token -- <user>` signs with the secret npm start generated into the data folder.
    const { stdout: token } = await run(process.execPath, ['--import', 'tsx', 'src/dev/token.ts', 'launcher-user'], { env });
    const auth = { authorization: `Bearer ${token.trim()}` };
    const created = await fetch(`${first.ready.api}/api/v1/projects`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...auth },
      body: JSON.stringify({ name: 'survives restarts' }),
    });
    expect(created.status).toBe(201);
    const project = (await created.json()) as { id: string };

    const children = await descendants(first.child.pid!);
    expect(children.length).toBeGreaterThanOrEqual(2); // the PostgreSQL server and the Temporal dev server at least
    // Exit code 0: the launcher finished stopping inside its own 9-second deadline (past it, it exits 1).
    expect(await stop(first.child)).toBe(0);
    const survivors = [];
    for (const pid of children) if (await alive(pid)) survivors.push(pid);
    expect(survivors).toEqual([]);

    const second = await launch(env);
    try {
      const again = await fetch(`${second.ready.api}/api/v1/projects/${project.id}`, { headers: auth });
      expect(again.status).toBe(200);
      expect(await again.json()).toMatchObject({ id: project.id, name: 'survives restarts' });
    } finally {
      expect(await stop(second.child, 'Ctrl-C')).toBe(0);
    }
  }, 180_000);
});
