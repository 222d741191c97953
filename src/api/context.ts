import type { Logger } from '../config/logger.js';

/** What middleware puts on each request's context for the handlers. */
export type ApiEnv = {
  Variables: {
    requestId: string;
    /** The JWT subject; set by the auth middleware on /api/v1 routes. */
    userId: string;
    /** The request's logger: every line carries its request id and user. */
    log: Logger;
  };
};
