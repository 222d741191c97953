import { z } from 'zod';
import { gitUrlProblem, invalidGitUrlMessage, MAX_GIT_URL_LENGTH, type EgressPolicy } from '../egress/git-url.js';
import { MAX_REF_LENGTH, REF_NAME_PATTERN } from '../shared/ref-name.js';
import { gitUrlPattern } from './git-url-pattern.js';
import { CURSOR_PATTERN } from './pagination.js';

export const uuid = z.string().uuid();

/**
 * The egress rules (src/git/remote-guard.ts), then the documented pattern, a subset of them: the
 * first rule broken is named, never the value (which may carry a secret).
 */
export const gitUrlSchema = (policy: EgressPolicy) => {
  const pattern = gitUrlPattern(policy);
  return z
    .string()
    .min(1)
    .max(MAX_GIT_URL_LENGTH, {
      abort: true,
      error: invalidGitUrlMessage(`longer than ${MAX_GIT_URL_LENGTH} characters`),
    })
    .superRefine((value, ctx) => {
      const problem =
        gitUrlProblem(value, policy) ??
        (pattern.test(value) ? undefined : 'not of the documented form (the OpenAPI pattern)');
      if (problem) ctx.addIssue({ code: 'custom', message: invalidGitUrlMessage(problem) });
    })
    .meta({ pattern: pattern.source });
};

/**
 * What String.prototype.trim removes, spelled out rather than `\s`: the document's readers
 * (schemathesis in Python, say) disagree with JavaScript on what `\s` is.
 */
const TRIMMED = '\\t\\n\\v\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff';
/**
 * Text PostgreSQL can store (no NUL) that is not blank once trimmed. The first character trim
 * keeps is where the leading run ends, so matching takes one pass, whatever the input.
 */
const STORABLE_NOT_BLANK = new RegExp(`^[${TRIMMED}]*[^\\u0000${TRIMMED}][^\\u0000]*$`);

export const accessTokenSchema = z
  .string()
  .trim()
  .min(10, 'Access token appears to be invalid')
  .max(1024)
  .regex(/^[\x21-\x7e]+$/, 'Access token must be printable characters without spaces');

export const refSchema = z
  .string()
  .max(MAX_REF_LENGTH, { abort: true })
  .regex(REF_NAME_PATTERN, 'must be a branch or tag name (git check-ref-format rules, not starting with `-`)')
  .describe(
    "A branch or tag of the repository to clone (a tag is checked out detached); default: the remote's default branch",
  );

/** The range a repository's sync schedule may take: SYNC_MIN_INTERVAL_SECONDS up to the sandbox TTL (longer, the clone is gone first). */
export interface SyncIntervalRange {
  minSeconds: number;
  maxSeconds: number;
}

export const syncIntervalRangeOf = (settings: {
  sandboxTtlSeconds: number;
  sync: { minIntervalSeconds: number };
}): SyncIntervalRange => ({ minSeconds: settings.sync.minIntervalSeconds, maxSeconds: settings.sandboxTtlSeconds });

export const syncIntervalSchema = ({ minSeconds, maxSeconds }: SyncIntervalRange) =>
  z
    .number()
    .int()
    .min(minSeconds, `must be at least ${minSeconds} seconds`)
    .max(
      maxSeconds,
      `must be at most ${maxSeconds} seconds (SANDBOX_TTL_SECONDS: the clone is removed before a longer interval ends)`,
    )
    .describe(
      'Sync by itself this long after the last sync ended (a durable timer); absent: syncs run on demand and on push only',
    );

export function connectRequestSchema(policy: EgressPolicy, syncInterval: SyncIntervalRange) {
  return z.strictObject({
    git_url: gitUrlSchema(policy),
    access_token: accessTokenSchema,
    project_id: uuid,
    request_id: uuid.optional(),
    ref: refSchema.optional(),
    sync_interval_seconds: syncIntervalSchema(syncInterval).optional(),
  });
}

// Length and blankness are judged before trimming, as the document states them.
export const createProjectSchema = z.strictObject({
  name: z.string().max(200).regex(STORABLE_NOT_BLANK, 'must not be blank or hold a NUL character').trim(),
});

export const repoParamsSchema = z.object({ repo_id: uuid });
export const retryRequestSchema = z.strictObject({ access_token: accessTokenSchema.optional() });
export const listReposQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(50),
  cursor: z.string().regex(CURSOR_PATTERN, 'not a cursor this API issued').optional(),
});
export const idempotencyHeaderSchema = z.looseObject({ 'idempotency-key': uuid.optional() });
export const projectParamsSchema = z.object({ project_id: uuid });
