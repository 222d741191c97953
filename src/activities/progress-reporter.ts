import { Context } from '@temporalio/activity';
import type { GitProgress } from '../git/progress.js';
import { cloneProgressSignal, type CloneProgress } from '../shared/connect-repository.js';

/** Progress reaches the workflow at most this often (each signal is a history event). */
const PROGRESS_SIGNAL_INTERVAL_MS = 3000;

/** Heartbeats go out at least this often, so cancellation reaches a clone even while git is silent. */
const HEARTBEAT_INTERVAL_MS = 2000;

/**
 * Reports progress as heartbeats (the UI's pending activity) and throttled signals (the
 * workflow's query). Heartbeats also carry cancellation back to the activity.
 */
export function progressReporter() {
  const ctx = Context.current();
  let lastSignal = 0;
  let latest: CloneProgress = { stage: 'starting', percent: 0, bytes: null, bytesPerSecond: null };
  const beat = setInterval(() => ctx.heartbeat(latest), HEARTBEAT_INTERVAL_MS);
  const signalWorkflow = () => {
    lastSignal = Date.now();
    const workflowId = ctx.info.workflowExecution?.workflowId;
    if (!workflowId) return;
    ctx.client.workflow
      .getHandle(workflowId)
      .signal(cloneProgressSignal, latest)
      .catch(() => {});
  };
  return {
    report(p: Partial<CloneProgress> & { percent: number }) {
      latest = { ...latest, ...p };
      ctx.heartbeat(latest);
      if (Date.now() - lastSignal >= PROGRESS_SIGNAL_INTERVAL_MS) signalWorkflow();
    },
    stop: () => clearInterval(beat),
    bytesReceived: () => latest.bytes,
    /** Fetching is 0–90 %, checkout the rest; a rate only while objects are received. */
    fromGit(g: GitProgress) {
      if (g.stage === 'receiving objects') {
        this.report({
          stage: 'receiving',
          percent: Math.round(g.percent * 0.8),
          bytes: g.bytes ?? latest.bytes,
          bytesPerSecond: g.bytesPerSecond ?? latest.bytesPerSecond,
        });
      } else if (g.stage === 'resolving deltas')
        this.report({ stage: 'resolving', percent: 80 + Math.round(g.percent * 0.1), bytesPerSecond: null });
    },
  };
}
