import type { ConnectRun } from './connect-run.js';
import { notPickedUp } from './failures.js';

export type CleanupReason = 'signal' | 'ttl' | 'cancelled';

/** CLEANING at once (from the shared queue), then the files removed on the host that holds them. */
export async function cleanUp(run: ConnectRun, reason: CleanupReason): Promise<void> {
  const { repoId, audit, steps } = run;
  const { projectId } = run.input;
  run.update({ stage: 'cleaning', cloneStatus: 'CLEANING', progressMessage: 'Removing the sandbox' });
  await steps.bookkeeping.markRepositoryCleaning({ repoId, audit, reason });
  try {
    const files = run.hostTaskQueue ? steps.hostFiles(run.hostTaskQueue) : steps.anyHostFiles;
    await files.cleanupSandbox({ repoId, projectId, audit, reason });
  } catch (err) {
    // No worker of that host took the task: the host is gone. The row settles here; its sweep removes the files later.
    if (!notPickedUp(err)) throw err;
    await steps.anyHostFiles.cleanupSandbox({ repoId, projectId, audit, reason: 'host_lost' });
  }
  run.update({ stage: 'done', cloneStatus: 'CLEANED', sandboxPath: null, progressMessage: 'Sandbox removed' });
}
