/**
 * The activity queues of a deployment whose workflows run on `taskQueue`. Admission (encryption,
 * the size probe, database steps) and clones poll separate queues with separate slot limits, so
 * a worker full of clones still admits at once.
 */
export const admissionQueueOf = (taskQueue: string): string => `${taskQueue}-admission`;
export const cloneQueueOf = (taskQueue: string): string => `${taskQueue}-clone`;
/** A host's syncs, in slots of their own beside its queue's cleanups and sweeps: no flood of syncs delays a cleanup. */
export const syncQueueOf = (hostTaskQueue: string): string => `${hostTaskQueue}-sync`;
