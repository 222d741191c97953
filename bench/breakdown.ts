import type { WorkflowClient } from '@temporalio/client';
import proto from '@temporalio/proto';

const EventType = proto.temporal.api.enums.v1.EventType;
type HistoryEvent = proto.temporal.api.history.v1.IHistoryEvent;

/** Where one connect's time went, from its workflow history (server clock), in milliseconds. */
export interface AdmissionBreakdown {
  /** Workflow start until the admission update (or the clone) completed. */
  serverMs: number;
  /** Workflow tasks: waiting in their queue, and run by the worker. */
  workflowTasks: { count: number; queueMs: number; runMs: number };
  /** Each activity: waiting in its queue (schedule → start), and run (start → completed). */
  activities: Array<{ type: string; queueMs: number; runMs: number }>;
}

const timeOf = (event: HistoryEvent): number =>
  Number(event.eventTime!.seconds) * 1000 + (event.eventTime!.nanos ?? 0) / 1e6;

const isCloneCompleted = (byId: Map<number, HistoryEvent>) => (e: HistoryEvent) =>
  e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED &&
  byId.get(Number(e.activityTaskCompletedEventAttributes!.scheduledEventId))?.activityTaskScheduledEventAttributes
    ?.activityType?.name === 'cloneRepository';

/**
 * Reads the history of `workflowId` up to the admission update's completion (`admission`), or
 * up to its clone's completion (`clone`).
 */
export async function admissionBreakdown(
  workflows: WorkflowClient,
  workflowId: string,
  through: 'admission' | 'clone' = 'admission',
): Promise<AdmissionBreakdown> {
  const events = (await workflows.getHandle(workflowId).fetchHistory()).events ?? [];
  const byId = new Map(events.map((e) => [Number(e.eventId), e]));
  const end = events.find(
    through === 'admission'
      ? (e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED
      : isCloneCompleted(byId),
  );
  if (!end) throw new Error(`${workflowId}: no ${through} completed in its history`);
  const upTo = events.filter((e) => Number(e.eventId) <= Number(end.eventId));
  const since = (startedId: unknown, to: HistoryEvent) => timeOf(to) - timeOf(byId.get(Number(startedId))!);
  const workflowTasks = { count: 0, queueMs: 0, runMs: 0 };
  const activities: AdmissionBreakdown['activities'] = [];
  for (const e of upTo) {
    if (e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED) {
      workflowTasks.count++;
      workflowTasks.queueMs += since(e.workflowTaskStartedEventAttributes!.scheduledEventId, e);
    } else if (e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED) {
      workflowTasks.runMs += since(e.workflowTaskCompletedEventAttributes!.startedEventId, e);
    } else if (e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED) {
      const { scheduledEventId, startedEventId } = e.activityTaskCompletedEventAttributes!;
      const scheduled = byId.get(Number(scheduledEventId))!;
      activities.push({
        type: scheduled.activityTaskScheduledEventAttributes!.activityType!.name!,
        queueMs: since(scheduledEventId, byId.get(Number(startedEventId))!),
        runMs: since(startedEventId, e),
      });
    }
  }
  return { serverMs: timeOf(end) - timeOf(upTo[0]!), workflowTasks, activities };
}

/** One line: `server 180 ms = 4 workflow tasks (queue 12, run 30) + encryptToken (queue 3, run 9) + …`. */
export function describeBreakdown(b: AdmissionBreakdown): string {
  const r = Math.round;
  const parts = [
    `${b.workflowTasks.count} workflow tasks (queue ${r(b.workflowTasks.queueMs)}, run ${r(b.workflowTasks.runMs)})`,
    ...b.activities.map((a) => `${a.type} (queue ${r(a.queueMs)}, run ${r(a.runMs)})`),
  ];
  return `server ${r(b.serverMs)} ms: ${parts.join(' + ')}`;
}

/** The median of each part over several admissions (activities matched by position). */
export function medianBreakdown(all: AdmissionBreakdown[]): AdmissionBreakdown {
  const med = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)]!;
  const first = all[0]!;
  return {
    serverMs: med(all.map((b) => b.serverMs)),
    workflowTasks: {
      count: first.workflowTasks.count,
      queueMs: med(all.map((b) => b.workflowTasks.queueMs)),
      runMs: med(all.map((b) => b.workflowTasks.runMs)),
    },
    activities: first.activities.map((a, i) => ({
      type: a.type,
      queueMs: med(all.map((b) => b.activities[i]?.queueMs ?? Number.NaN)),
      runMs: med(all.map((b) => b.activities[i]?.runMs ?? Number.NaN)),
    })),
  };
}
