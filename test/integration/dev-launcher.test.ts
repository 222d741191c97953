import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { randomUUID } from 'node:crypto';
import { chmod, lstat, mkdir, mkdtemp, readlink, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import path from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { freePort } from '../../src/runtime/ports.js';
import { RELOCATION_ROOT } from '../../src/dev-stack/embedded-postgres-placement.js';
import { PROJECT_ROOT } from '../../src/dev-stack/paths.js';
import {
  descendants,
  errorsLogged,
  launch,
  launcherEnv as launcherEnvFor,
  launchToEnd,
  stop,
  survivors,
  type LaunchCommand,
} from '../support/launcher.js';

const stack = inject('stack');
const run = promisify(execFile);

const launcherEnv = (dataDir: string) => launcherEnvFor(dataDir, stack.temporalCliPath);

/**
 * Readiness and the Temporal UI answer; a project created survives a restart; the first run stops
 * on SIGTERM (Ctrl-C under npm), the second on Ctrl-C, each cleanly (inside the launcher's own
 * 9-second deadline; past it, it logs an error and exits 1) and no process of theirs left behind.
 */
async function startCreateRestart(env: Record<string, string>, how: LaunchCommand): Promise<void> {
  // npm re-raises the signal it got once its script has ended, as a shell shows (130); the
  // launcher's own clean stop then shows as no error logged. Under npm both stops are Ctrl-C.
  const cleanExit = how.via === 'npm' ? 'SIGINT' : 0;
  const first = await launch(env, how);
  expect((await fetch(`${first.ready.api}/readyz`)).status).toBe(200);
  expect((await fetch(first.ready.temporalUi)).status).toBe(200);
  // `npm run token -- <user>` signs with the secret npm start generated into the data folder.
  const { stdout: token } = await run(process.execPath, ['--import', 'tsx', 'src/dev/token.ts', 'launcher-user'], {
    env,
    cwd: how.cwd,
  });
  const auth = { authorization: `Bearer ${token.trim()}` };
  const created = await fetch(`${first.ready.api}/api/v1/projects`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...auth },
    body: JSON.stringify({ name: 'survives restarts' }),
  });
  expect(created.status).toBe(201);
  const project = (await created.json()) as { id: string };

  const firstChildren = await descendants(first.child.pid!);
  expect(firstChildren.length).toBeGreaterThanOrEqual(2); // the PostgreSQL server and the Temporal dev server at least
  expect(await stop(first.child, how.via === 'npm' ? 'Ctrl-C' : 'SIGTERM')).toBe(cleanExit);
  expect(errorsLogged(first.output)).toEqual([]);
  expect(await survivors(firstChildren)).toEqual([]);

  const second = await launch(env, how);
  const secondChildren = await descendants(second.child.pid!);
  try {
    const again = await fetch(`${second.ready.api}/api/v1/projects/${project.id}`, { headers: auth });
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ id: project.id, name: 'survives restarts' });
  } finally {
    expect(await stop(second.child, 'Ctrl-C')).toBe(cleanExit);
  }
  expect(errorsLogged(second.output)).toEqual([]);
  expect(await survivors(secondChildren)).toEqual([]);
}

/** A copy of this checkout (tracked and new files, node_modules hard-linked where the disk allows). */
async function copyCheckout(target: string): Promise<void> {
  const { stdout } = await run('git', [
    '-C',
    PROJECT_ROOT,
    'ls-files',
    '-z',
    '--cached',
    '--others',
    '--exclude-standard',
  ]);
  const files = stdout.split('\0').filter(Boolean);
  await mkdir(target);
  for (let i = 0; i < files.length; i += 500) {
    await run('cp', ['--parents', '-t', target, ...files.slice(i, i + 500)], { cwd: PROJECT_ROOT });
  }
  const modules = path.join(PROJECT_ROOT, 'node_modules');
  await run('cp', ['-al', modules, target]).catch(() => run('cp', ['-a', modules, target]));
}

function holdPort(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

describe('npm start (embedded defaults)', () => {
  it('serves API, Temporal UI and readiness, stops cleanly on SIGTERM and on Ctrl-C, and keeps data across a restart', async () => {
    const dataDir = path.join(stack.workDir, `dev-${randomUUID()}`);
    await mkdir(dataDir);
    await chmod(dataDir, 0o755);
    await startCreateRestart(await launcherEnv(dataDir), { cwd: PROJECT_ROOT, via: 'node' });
  }, 180_000);

  it('works from a checkout in a folder closed to other users (0700), with DATA_DIR inside it', async () => {
    const privateDir = await mkdtemp(path.join(stack.workDir, 'private-'));
    expect((await lstat(privateDir)).mode & 0o777).toBe(0o700);
    const checkout = path.join(privateDir, 'repo-connector');
    await copyCheckout(checkout);
    const dataDir = path.join(checkout, '.data');
    const link = path.join(dataDir, 'postgres');
    try {
      await startCreateRestart(await launcherEnv(dataDir), { cwd: checkout, via: 'npm' });
      if (process.getuid?.() === 0) {
        // As root, PostgreSQL runs as `postgres`, which cannot enter the 0700 folder: its cluster was placed outside, linked.
        expect(path.dirname(await readlink(link))).toBe(RELOCATION_ROOT);
      }
    } finally {
      const relocated = await readlink(link).catch(() => undefined);
      if (relocated) await rm(relocated, { recursive: true, force: true });
    }
  }, 240_000);

  it.each([
    [
      'EMBEDDED_POSTGRES_PORT',
      /^port \d+ \(EMBEDDED_POSTGRES_PORT\) is already in use: stop what uses it, or set EMBEDDED_POSTGRES_PORT to a free port/,
    ],
    ['PORT', /^port \d+ \(PORT\) is already in use: stop what uses it, or set PORT to a free port/],
  ])('stops with one clear line and exit code 1 when %s is taken', async (setting, sentence) => {
    const dataDir = path.join(stack.workDir, `dev-${randomUUID()}`);
    const port = await freePort();
    const holder = await holdPort(port);
    try {
      const { code, lines } = await launchToEnd({ ...(await launcherEnv(dataDir)), [setting]: String(port) });
      expect(code).toBe(1);
      const errors = lines.map((l) => JSON.parse(l) as { level: number; msg: string }).filter((e) => e.level >= 50);
      expect(errors).toHaveLength(1);
      expect(errors[0]!.msg.replace(/^start-up failed: /, '')).toMatch(sentence);
      expect(lines.join('\n')).not.toMatch(/\n\s+at /);
    } finally {
      holder.close();
    }
  });
});
