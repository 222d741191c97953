import { execFile, spawn } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  INDEX_FIXED_BYTES,
  indexBytes,
  packBudgetEnvironment,
  packCap,
  SHIM_SCRIPT,
} from '../../src/git/pack-budget.js';

describe('pack index arithmetic', () => {
  it('predicts a version 2 index: 1072 bytes plus 28 per object, 36 once offsets pass 2 GiB', () => {
    expect(INDEX_FIXED_BYTES).toBe(1072);
    // Measured: a clone of 3002 objects wrote an 85128-byte index.
    expect(indexBytes(3002, 1024 ** 2)).toBe(85_128);
    expect(indexBytes(0, 1024 ** 2)).toBe(1072);
    expect(indexBytes(10, 3 * 1024 ** 3)).toBe(1072 + 360);
  });

  it('leaves the pack what the budget holds beyond its index, never less than nothing', () => {
    expect(packCap(200_000, 3002)).toBe(200_000 - 85_128);
    expect(packCap(1000, 3002)).toBe(0);
  });
});

describe('the index-pack shim', () => {
  let dir: string;
  let shim: string;
  // Stands in for the real git: prints its arguments, its RLIMIT_FSIZE and how much of stdin it got.
  const fakeGit =
    '#!/bin/sh\necho "args: $*"\necho "fsize: $(prlimit --pid $$ --fsize --raw --noheadings --output=SOFT,HARD)"\necho "stdin: $(wc -c)"\n';

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'shim-test-'));
    shim = path.join(dir, 'git');
    await writeFile(shim, SHIM_SCRIPT);
    await writeFile(path.join(dir, 'real-git'), fakeGit);
    await chmod(shim, 0o755);
    await chmod(path.join(dir, 'real-git'), 0o755);
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const runShim = (args: string[], stdin: Buffer) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const env = {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        RC_REAL_GIT: path.join(dir, 'real-git'),
        RC_PACK_BUDGET_BYTES: '200000',
        RC_INDEX_BYTES_PER_OBJECT: '28',
      };
      const child = spawn(shim, args, { env });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('close', (code) => resolve({ code, stdout, stderr }));
      child.stdin.end(stdin);
    });
  const packHeader = (objects: number) => {
    const header = Buffer.alloc(12);
    header.write('PACK', 0, 'latin1');
    header.writeUInt32BE(2, 4);
    header.writeUInt32BE(objects, 8);
    return header;
  };

  it('reads the pack header from stdin, hands it on as --pack_header and caps index-pack at budget − index', async () => {
    const out = await runShim(['index-pack', '--stdin', '-v'], Buffer.concat([packHeader(3002), Buffer.alloc(5000)]));
    expect(out.code).toBe(0);
    expect(out.stdout).toContain('args: index-pack --pack_header=2,3002 --stdin -v');
    expect(out.stdout).toContain(`fsize: ${packCap(200_000, 3002)} ${packCap(200_000, 3002)}`);
    expect(out.stdout).toContain('stdin: 5000');
  });

  it('takes the object count from --pack_header when fetch-pack already read the header, leaving stdin alone', async () => {
    const out = await runShim(['index-pack', '--stdin', '--pack_header=2,10'], Buffer.alloc(300));
    expect(out.stdout).toContain(`fsize: ${packCap(200_000, 10)} `);
    expect(out.stdout).toContain('stdin: 300');
  });

  it("finds index-pack behind git's own options, as a shallow clone or fetch runs it (--shallow-file)", async () => {
    const out = await runShim(
      ['--shallow-file', '', 'index-pack', '--stdin', '--fix-thin'],
      Buffer.concat([packHeader(500), Buffer.alloc(900)]),
    );
    expect(out.code).toBe(0);
    expect(out.stdout).toContain('args: --shallow-file  index-pack --pack_header=2,500 --stdin --fix-thin');
    expect(out.stdout).toContain(`fsize: ${packCap(200_000, 500)} ${packCap(200_000, 500)}`);
    expect(out.stdout).toContain('stdin: 900');
  });

  it('caps at nothing when the index alone is over the budget', async () => {
    const out = await runShim(['index-pack', '--stdin'], packHeader(100_000));
    expect(out.stdout).toContain('fsize: 0 0');
  });

  it('fails as git would on a truncated or foreign header', async () => {
    expect(await runShim(['index-pack', '--stdin'], Buffer.from('PACK'))).toMatchObject({
      code: 128,
      stderr: 'fatal: early EOF\n',
    });
    expect(await runShim(['index-pack', '--stdin'], Buffer.alloc(12))).toMatchObject({
      code: 128,
      stderr: 'fatal: protocol error: bad pack header\n',
    });
  });

  it('passes every other command to the real git untouched', async () => {
    const out = await runShim(['fetch-pack', '--stdin'], Buffer.alloc(7));
    expect(out.stdout).toContain('args: fetch-pack --stdin');
    expect(out.stdout).toContain('stdin: 7');
  });

  it('puts the shim first in the exec path and the real exec path on PATH', async () => {
    const budgetEnv = await packBudgetEnvironment({ PATH: '/usr/bin' }, 1024 ** 2);
    const realExecPath = (await promisify(execFile)('git', ['--exec-path'])).stdout.trim();
    expect(budgetEnv).toMatchObject({
      PATH: `${realExecPath}:/usr/bin`,
      RC_PACK_BUDGET_BYTES: '1048576',
      RC_INDEX_BYTES_PER_OBJECT: '28',
    });
    expect(budgetEnv.GIT_EXEC_PATH).not.toBe(realExecPath);
  });
});
