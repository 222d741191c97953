import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'vitest';
import { cleanupSignal, getStateQuery } from '../../src/shared/connect-repository.js';
import type { AppUnderTest } from '../support/app-under-test.js';
import { processesMentioning } from '../support/processes.js';

/** Row states whose workflow is still at work on them. */
const LIVE = new Set(['PENDING', 'CLONING', 'COMPLETED', 'CLEANING']);

/**
 * What every fault case must leave behind, once things have settled: every row of `projectIds`
 * in a state its workflow agrees with (a live row's workflow running and reporting that state, a
 * closed workflow's row CLEANED or FAILED); every directory under the sandbox root owned by a
 * live row; no git process at work on the sandbox root. Returns a one-line account of what it saw.
 */
export async function checkInvariants(app: AppUnderTest, projectIds: string[]): Promise<string> {
  const rows = await app.sql<{ id: string; projectId: string; cloneStatus: string; workflowId: string }[]>`
    select id, project_id, clone_status, workflow_id from code_repos where project_id = any(${projectIds})`;
  const byStatus: Record<string, number> = {};
  for (const row of rows) {
    byStatus[row.cloneStatus] = (byStatus[row.cloneStatus] ?? 0) + 1;
    const handle = app.temporal.workflow.getHandle(row.workflowId);
    const { status } = await handle.describe();
    if (status.name === 'RUNNING') {
      expect(LIVE.has(row.cloneStatus) || row.cloneStatus === 'FAILED', `row ${row.id} is ${row.cloneStatus}`).toBe(
        true,
      );
      expect((await handle.query(getStateQuery)).cloneStatus, `workflow of row ${row.id}`).toBe(row.cloneStatus);
    } else {
      expect(['CLEANED', 'FAILED'], `row ${row.id} of a ${status.name} workflow`).toContain(row.cloneStatus);
    }
  }
  const live = new Set(rows.filter((r) => LIVE.has(r.cloneStatus)).map((r) => `${r.projectId}/${r.id}`));
  const root = app.config.SANDBOX_BASE_PATH;
  let directories = 0;
  for (const project of existsSync(root) ? await readdir(root) : []) {
    if (project === '.probes') {
      expect(await readdir(path.join(root, project)), 'size probes left behind').toEqual([]);
      continue;
    }
    for (const repo of await readdir(path.join(root, project))) {
      directories++;
      expect(live.has(`${project}/${repo}`), `directory ${project}/${repo} owned by a live row`).toBe(true);
    }
  }
  const cloning = rows.some((r) => r.cloneStatus === 'CLONING');
  const git = await processesMentioning(root);
  if (!cloning) expect(git, 'git processes at work on the sandbox root').toEqual([]);
  const statuses = Object.entries(byStatus)
    .map(([s, n]) => `${s} ${n}`)
    .join(', ');
  return `${rows.length} rows (${statuses}), each as its workflow says; ${directories} directories, each owned by a live row; ${git.length} git processes`;
}

/** Sends every run the cleanup signal and waits for each to end CLEANED, so a case leaves nothing running. */
export async function cleanUpAll(app: AppUnderTest, workflowIds: string[]): Promise<void> {
  await Promise.all(
    workflowIds.map(async (id) => {
      const handle = app.temporal.workflow.getHandle(id);
      await handle.signal(cleanupSignal);
      expect(await handle.result()).toMatchObject({ cloneStatus: 'CLEANED' });
    }),
  );
}
