import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { serve, type ServerType } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createLogger } from '../../src/config/logger.js';
import { honoFor, startAppUnderTest, type AppUnderTest } from '../support/app-under-test.js';
import { provisionSchemathesis, runSchemathesis } from '../support/schemathesis.js';

/**
 * schemathesis generates requests from /openapi.json (valid ones and invalid ones, for every
 * operation, then sequences of calls linked by the ids responses return) and checks every answer
 * against the document: never a 5xx, only documented statuses, headers, content types and bodies,
 * valid input accepted and invalid input refused, 405 with Allow for undocumented methods.
 *
 * The API runs without a worker: the document admits any https host, and nothing generated here
 * may be dialled (this machine sends nothing off loopback). A connect that reaches admission
 * (a project the run created itself) is answered 202 once the admission wait is over, as
 * documented; the wait is 0.2 s here (ADMISSION_WAIT_SECONDS takes whole seconds, and a second
 * for each of the hundreds of such connects would triple the run).
 */
const MAX_EXAMPLES_PER_OPERATION = 100;
const MIN_CASES = 1000;
// Fixed, so a red run is reproducible; FUZZ_SEED explores others.
const SEED = process.env.FUZZ_SEED ?? '1';

const stack = inject('stack');
let app: AppUnderTest;
let server: ServerType;
let apiUrl: string;
let tool: Awaited<ReturnType<typeof provisionSchemathesis>>;
let workDir: string;

beforeAll(async () => {
  tool = await provisionSchemathesis(createLogger({ level: 'silent' }));
  workDir = await mkdtemp(path.join(tmpdir(), 'contract-fuzz-'));
  app = await startAppUnderTest(
    stack,
    {
      GIT_ALLOW_LOOPBACK: 'false',
    },
    { worker: false },
  );
  const api = honoFor(app, createLogger({ level: 'silent' }), {
    admissionWaitSeconds: 0.2,
    rateLimit: { burst: 1_000_000, perMinute: 1_000_000 },
  });
  server = await new Promise<ServerType>((resolve) => {
    const listening: ServerType = serve({ fetch: api.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(listening));
  });
  apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}, 600_000);

afterAll(async () => {
  // The admissions it left waiting: their workflows end here rather than with the test server.
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  if (app) {
    const open = app.temporal.workflow.list({
      query: `TaskQueue = "${app.config.TEMPORAL_TASK_QUEUE}" AND ExecutionStatus = "Running"`,
    });
    for await (const run of open)
      await app.temporal.workflow.getHandle(run.workflowId, run.runId).terminate('contract fuzz run over');
    await app.stop();
  }
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

describe('the API against its own OpenAPI document (schemathesis)', () => {
  it(`answers ${MIN_CASES}+ generated requests over every operation as documented`, async () => {
    const started = Date.now();
    const run = await runSchemathesis(tool, {
      schemaUrl: `${apiUrl}/openapi.json`,
      // A user of its own: its calls (GET /projects, then DELETE, cleanup, sync of what it lists) reach no other test's repositories.
      token: await app.tokenFor(`contract-fuzz-${randomUUID()}`),
      args: [
        '--checks',
        'all',
        '--max-examples',
        String(MAX_EXAMPLES_PER_OPERATION),
        '--workers',
        '2',
        '--seed',
        SEED,
        '--generation-database',
        'none',
        '--request-timeout',
        '10',
        '--report',
        'junit',
        '--report-dir',
        workDir,
      ],
      workDir,
      timeoutMs: 280_000,
    });
    const seconds = Math.round((Date.now() - started) / 1000);
    const generated = Number(/(\d+) generated/.exec(run.output)?.[1] ?? 0);
    const selected = /Selected: (\d+)\/(\d+)/.exec(run.output);
    const tested = Number(/Tested: (\d+)/.exec(run.output)?.[1] ?? 0);
    const phases = run.output
      .split('\n')
      .filter((l) => /^ \S+\s+(Examples|Coverage|Fuzzing|Stateful) \(in /.test(l))
      .map((l) => l.trim());
    console.log(
      `schemathesis: ${generated} cases over ${tested} operations in ${seconds} s (seed ${SEED}); ${phases.join('; ')}`,
    );
    expect(run.exitCode, run.output).toBe(0);
    expect(run.output).not.toMatch(/^Failures:|^Errors:/m);
    expect(selected?.[1]).toBe(selected?.[2]);
    expect(tested).toBe(Number(selected?.[2]));
    expect(tested).toBeGreaterThanOrEqual(15);
    expect(generated).toBeGreaterThanOrEqual(MIN_CASES);
  }, 300_000);
});
