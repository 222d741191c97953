import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { msToTs } from '@temporalio/common/lib/time.js';
import proto from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { createLogger } from '../../src/config/logger.js';
import { exited } from '../../src/dev-stack/child-process.js';
import { freePort } from '../../src/runtime/ports.js';
import { checkSearchAttributes } from '../../src/runtime/search-attributes.js';
import { startTemporalDevServer, type TemporalDevServer } from '../../src/dev-stack/temporal-dev-server.js';
import { cleanupSignal } from '../../src/shared/connect-repository.js';
import { startWorkerService, type WorkerService } from '../../src/worker/start-worker.js';
import { call, configEnv, startAppUnderTest, waitForState, type AppUnderTest } from '../support/app-under-test.js';
import { createBareRepo } from '../support/git-repos.js';
import { errorsLogged } from '../support/launcher.js';

const stack = inject('stack');
const logger = createLogger({ level: 'error', pretty: false });
const { INDEXED_VALUE_TYPE_TEXT } = proto.temporal.api.enums.v1.IndexedValueType;
// The run's shared dev server has the attributes; this file needs one that does not.
let server: TemporalDevServer;
let app: AppUnderTest;
let worker: WorkerService | undefined;

beforeAll(async () => {
  server = await startTemporalDevServer({
    cliPath: stack.temporalCliPath,
    port: await freePort(),
    uiPort: await freePort(),
    namespace: 'default',
    headless: true,
    searchAttributes: false,
    logger,
  });
  app = await startAppUnderTest({ ...stack, temporalAddress: server.address }, {}, { worker: false });
});

afterAll(async () => {
  await worker?.stop();
  await app?.stop();
  await server?.stop();
});

const operator = () => app.temporal.connection.operatorService;
const readyz = async () => {
  const res = await fetch(`${app.api.url}/readyz`);
  return { status: res.status, body: await res.json() };
};

describe('search attributes on a Temporal server that lacks them', () => {
  it('/readyz answers 503 naming search_attributes', async () => {
    expect(await checkSearchAttributes(operator(), 'default')).toMatchObject({
      missing: ['ProjectId', 'RepoId', 'CloneStatus'],
    });
    const res = await readyz();
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({
      detail: {
        error: 'not_ready',
        message: 'Not ready: search_attributes is down',
        checks: { database: 'up', temporal: 'up', search_attributes: 'down' },
      },
    });
  });

  it('the worker registers them as it starts, and /readyz then answers 200', async () => {
    worker = await startWorkerService(app.config, logger);
    expect(await checkSearchAttributes(operator(), 'default')).toEqual({ missing: [], wrongType: [] });
    // A negative result is never cached, so the very next probe sees them.
    const res = await readyz();
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ checks: { search_attributes: 'up' } });
  });

  it('a connect then runs to the end and its run carries them', async () => {
    await createBareRepo(stack.gitRoot, 'sa-hello', { 'README.md': '# sa\n' });
    const projectId: string = (await call(app, 'POST', '/api/v1/projects', { name: 'search-attributes' })).body.id;
    const res = await call(app, 'POST', '/api/v1/code/connect', {
      git_url: `${stack.gitUrl}/sa-hello.git`,
      access_token: stack.gitToken,
      project_id: projectId,
      request_id: randomUUID(),
    });
    expect(res.status).toBe(201);
    await waitForState(app, res.body.workflow_id, (s) => s.cloneStatus === 'COMPLETED');
    const handle = app.temporal.workflow.getHandle(res.body.workflow_id);
    expect((await handle.describe()).searchAttributes).toMatchObject({
      ProjectId: [projectId],
      RepoId: [res.body.repo_id],
      CloneStatus: ['COMPLETED'],
    });
    await handle.signal(cleanupSignal);
    expect(await handle.result()).toMatchObject({ cloneStatus: 'CLEANED' });
  });

  it('the production worker refuses to start, in one line, when one has another type', async () => {
    const namespace = `wrong-type-${randomUUID().slice(0, 8)}`;
    await app.temporal.workflowService.registerNamespace({
      namespace,
      workflowExecutionRetentionPeriod: msToTs('1 day'),
    });
    // A new namespace reaches the frontend's cache a few seconds after it is registered.
    await vi.waitFor(
      () => operator().addSearchAttributes({ namespace, searchAttributes: { ProjectId: INDEXED_VALUE_TYPE_TEXT } }),
      { timeout: 30_000, interval: 500 },
    );
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/worker/main.ts'], {
      env: { ...configEnv(app.config), PATH: process.env.PATH!, TEMPORAL_NAMESPACE: namespace, LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let text = '';
    child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (text += chunk.toString()));
    await exited(child);
    expect(child.exitCode).toBe(1);
    const errors = errorsLogged(text.split('\n').filter(Boolean)).map(
      (line) => JSON.parse(line) as { msg: string; err?: unknown },
    );
    expect(errors).toEqual([
      {
        ...errors[0],
        msg: expect.stringContaining(
          `must be Keyword but ProjectId is Text: remove them (temporal operator search-attribute remove --namespace ${namespace} --name ProjectId)`,
        ),
      },
    ]);
    expect(errors[0]!.err).toBeUndefined();
    expect(text).not.toMatch(/\n\s+at /);
    // It registered nothing on its way out: the operator decides what ProjectId becomes.
    expect(await checkSearchAttributes(operator(), namespace)).toMatchObject({ missing: ['RepoId', 'CloneStatus'] });
  });
});
