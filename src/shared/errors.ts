/**
 * The closed set of ways connecting a repository can fail. The code doubles as the
 * `ApplicationFailure` type, so retry policies can name the non-retryable ones.
 */
export const REPO_ERRORS = {
  invalid_credentials: { status: 401, retryable: false },
  repository_not_found: { status: 404, retryable: false },
  /** The requested `ref` is neither a branch nor a tag of the repository (as ls-remote lists them). */
  ref_not_found: { status: 404, retryable: false },
  repository_too_large: { status: 413, retryable: false },
  invalid_url: { status: 422, retryable: false },
  upstream_unavailable: { status: 502, retryable: true },
  /** The Git server is throttling us (429, or a 403 that says "rate limit"): retried with backoff. */
  rate_limited: { status: 429, retryable: true },
  insufficient_storage: { status: 507, retryable: false },
  git_failed: { status: 502, retryable: false },
  /** The key management service refused (wrong or disabled key, no permission): a configuration problem. */
  kms_rejected: { status: 500, retryable: false },
  /** The key management service is throttling or unreachable. */
  kms_unavailable: { status: 503, retryable: true },
  /** The request does not fit the repository's state (a retry of a repository that has not failed). */
  invalid_state: { status: 409, retryable: false },
  /** The repository was disconnected: its token is destroyed, nothing more is done with it. */
  disconnected: { status: 409, retryable: false },
  /** A push webhook without a signature header, or signed with another secret than the repository's. */
  invalid_signature: { status: 401, retryable: false },
  /** A request_id reused with different parameters. */
  idempotency_key_reused: { status: 409, retryable: false },
  /** A status change the row's state machine forbids (a bug or a race): never retried. */
  invalid_transition: { status: 500, retryable: false },
  /** The connection's workflow ended (terminated, lost) before it finished; set by the reconciler. */
  workflow_lost: { status: 409, retryable: false },
  /** The workflow was cancelled or cleaned up before it finished. */
  cancelled: { status: 409, retryable: false },
  internal_error: { status: 500, retryable: true },
} as const satisfies Record<string, { status: number; retryable: boolean }>;

export type RepoErrorCode = keyof typeof REPO_ERRORS;

export const NON_RETRYABLE_ERROR_TYPES = (Object.keys(REPO_ERRORS) as RepoErrorCode[]).filter(
  (code) => !REPO_ERRORS[code].retryable,
);

export const isRepoErrorCode = (value: unknown): value is RepoErrorCode =>
  typeof value === 'string' && Object.hasOwn(REPO_ERRORS, value);

/** A failure with a code from the closed set and a message safe to show a user (no secrets, no paths). */
export class RepoError extends Error {
  constructor(
    readonly code: RepoErrorCode,
    message: string,
    /** Structured facts for the caller, e.g. `{ estimated_size_mb, limit_mb }` for a 413. */
    readonly details?: Record<string, unknown>,
    /** `cause`: what went wrong underneath (e.g. git's process error), for logs only; never sent to Temporal. */
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'RepoError';
  }
}

/**
 * What a failure is called in a metric label or span attribute: its code when it is one of the
 * closed set, else `error` (a driver's or the system's codes would make the label unbounded).
 */
export function outcomeOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code in REPO_ERRORS ? code : 'error';
}
