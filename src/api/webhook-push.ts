/** What a verified push event says, as GitHub, GitLab and Gitea all spell it. */
export interface PushEvent {
  /** The full ref pushed (`refs/heads/main`, `refs/tags/v1.0`). */
  ref: string | undefined;
  /** The ref's new commit: all zeros when the push deleted it. */
  after: string | undefined;
  /** The repository's default branch as the sender names it (GitHub, Gitea: `repository`; GitLab: `project`). */
  defaultBranch: string | undefined;
}

const text = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const field = (v: unknown, key: string): unknown =>
  v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[key] : undefined;

export function pushEventOf(payload: unknown): PushEvent {
  return {
    ref: text(field(payload, 'ref')),
    after: text(field(payload, 'after')),
    defaultBranch:
      text(field(field(payload, 'repository'), 'default_branch')) ??
      text(field(field(payload, 'project'), 'default_branch')),
  };
}

/** A push that deleted the ref (its new commit is the null object id, SHA-1's or SHA-256's). */
export const deletesRef = (push: PushEvent): boolean => push.after !== undefined && /^0{40}(0{24})?$/.test(push.after);

/**
 * Whether the push is to the ref a connection follows: the row's short name as a branch or a tag.
 * A row without a ref (from before refs were recorded) follows the remote's default branch. The row
 * keeps the short name only, so a tag named like the connected branch (or the other way round)
 * matches too: such a push costs one sync, which follows the ref the clone did and finds nothing new.
 */
export function pushesRef(push: PushEvent, rowRef: string | null): boolean {
  const ref = rowRef ?? push.defaultBranch;
  if (!ref || !push.ref) return false;
  return push.ref === `refs/heads/${ref}` || push.ref === `refs/tags/${ref}`;
}
