/** The closed set of ways a read of a clone can fail, each with the HTTP status the API answers it with. */
export const CODE_READ_ERRORS = {
  /** A commit, line range, query or cursor that is not well formed (never passed to git). */
  invalid_argument: 422,
  /** A path with `..`, `.` or empty segments, a NUL, a backslash, or an absolute path. */
  invalid_path: 422,
  /** The commit is unknown to the clone, or names something other than a commit. */
  commit_not_found: 404,
  path_not_found: 404,
  /** A file read of a directory or a submodule. */
  not_a_file: 422,
  /** git failed or stopped answering; the message says no more (its stderr may hold host paths). */
  read_failed: 500,
} as const satisfies Record<string, number>;

export type CodeReadErrorCode = keyof typeof CODE_READ_ERRORS;

/** A read refused or failed, with a code from the closed set and a message safe to show a user. */
export class CodeReadError extends Error {
  constructor(
    readonly code: CodeReadErrorCode,
    message: string,
    /** `cause`: git's process error, for logs only. */
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'CodeReadError';
  }

  get status(): number {
    return CODE_READ_ERRORS[this.code];
  }
}

/** A count the caller bounds a read with (a page size, a match cap): a positive integer. */
export function requireCount(value: number, what: string): number {
  if (!Number.isSafeInteger(value) || value < 1)
    throw new CodeReadError('invalid_argument', `${what} must be a positive integer`);
  return value;
}
