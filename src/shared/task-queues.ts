/**
 * The activity queues of a deployment whose workflows run on `taskQueue`. Admission (encryption,
 * the size probe, database steps) and clones poll separate queues with separate slot limits, so
 * a worker full of clones still admits at once.
 */
export const admissionQueueOf = (taskQueue: string): string => `${taskQueue}-admission`;
export const cloneQueueOf = (taskQueue: string): string => `${taskQueue}-clone`;
