import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { promisify } from 'node:util';
import type { Logger } from '../config/logger.js';

const run = promisify(execFile);

/** A Python interpreter with pip, if the machine has one. */
export async function findPython(): Promise<string | undefined> {
  for (const python of ['python3', 'python']) {
    try {
      await run(python, ['-m', 'pip', '--version'], { timeout: 30_000 });
      return python;
    } catch {
      // try the next name
    }
  }
  return undefined;
}

/**
 * `pip install --target <targetDir> <requirement>`, atomically: installed into a staging folder
 * and renamed into place, so a half-finished install is never picked up. Returns whether the
 * target now holds the package.
 */
export async function pipInstallInto(requirement: string, targetDir: string, logger: Logger): Promise<boolean> {
  if (existsSync(targetDir)) return true;
  const python = await findPython();
  if (!python) return false;
  const staging = `${targetDir}.partial-${process.pid}`;
  try {
    await rm(staging, { recursive: true, force: true });
    logger.info({ requirement }, 'installing from PyPI');
    await run(
      python,
      [
        '-m',
        'pip',
        'install',
        '--quiet',
        '--disable-pip-version-check',
        '--no-warn-script-location',
        '--target',
        staging,
        requirement,
      ],
      { timeout: 600_000 },
    );
    await rename(staging, targetDir).catch(async (err: NodeJS.ErrnoException) => {
      // Another process finished the same install first: use theirs.
      if (!existsSync(targetDir)) throw err;
    });
    return true;
  } catch (err) {
    logger.debug({ requirement, err: (err as Error).message }, 'pip install failed');
    return false;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}
