/** Longest `ref` a request may name; git itself has no limit, but a name this long is a mistake or an attack. */
export const MAX_REF_LENGTH = 255;

/**
 * A branch or tag name as a request may give it: git check-ref-format's rules for a short name,
 * over printable ASCII without the characters git forbids (space `~^:?*[\`), nor `{}` (so never
 * `@{`), nor a leading `-` (it reaches git's argv, where it could be read as an option). Also no
 * leading, trailing or doubled `/`, no `..`, no component starting with `.` or ending with
 * `.lock`, no trailing `.`, and not `@` alone. One expression, so the OpenAPI document and the API
 * accept the same names.
 */
export const REF_NAME_PATTERN = new RegExp(
  [
    '^(?!-)(?!/)(?!@$)',
    '(?!.*\\.\\.)(?!.*//)(?!.*/$)(?!.*\\.$)',
    '(?!(?:.*/)?\\.)(?!.*\\.lock(?:/|$))',
    `[A-Za-z0-9!"#$%&'()+,;<=>@\\]_\`|./-]{1,${MAX_REF_LENGTH}}$`,
  ].join(''),
);

/** A full commit id, SHA-1's or SHA-256's (a push's `after`): never read by git as an option. */
export const COMMIT_ID = /^([0-9a-f]{40}|[0-9a-f]{64})$/;

export const isRefName = (value: string): boolean => REF_NAME_PATTERN.test(value);
