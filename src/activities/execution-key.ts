import { Context } from '@temporalio/activity';

/** This activity execution (its run and activity id): an audit row keyed by it is written once, however often the activity is retried. */
export function executionKey(): string {
  const { workflowExecution, activityId } = Context.current().info;
  return `${workflowExecution?.runId ?? ''}:${activityId}`;
}
