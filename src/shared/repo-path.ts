/** PATH_MAX: no file of a checkout can have a longer path. */
const MAX_PATH_BYTES = 4096;

export const REPO_PATH_RULE =
  'must be a path inside the repository (no `..`, `.` or empty segments, NUL, backslash or leading /)';

/** One segment: anything but `/`, `\` and NUL, and not `.` or `..`. */
const SEGMENT = String.raw`(?!\.\.?(?:/|$))[^/\\\u0000]+`;
/**
 * The rule as a pattern (the OpenAPI document carries it): the root (`''` or `/`), or segments
 * joined by single slashes, one trailing slash allowed.
 */
export const REPO_PATH_PATTERN = new RegExp(`^(?:/?|(?:${SEGMENT}/)*${SEGMENT}/?)$`);
/** The same, but not the root: what names a file. */
export const REPO_FILE_PATTERN = new RegExp(`^(?:${SEGMENT}/)*${SEGMENT}/?$`);

/**
 * A path inside the repository as git names it (`src/a.ts`, no leading `/`), or '' for the root;
 * undefined when it breaks the pattern or is longer than PATH_MAX, so a path can only name an
 * entry of a commit's tree.
 */
export function repoPathOf(p: string): string | undefined {
  if (!REPO_PATH_PATTERN.test(p) || new TextEncoder().encode(p).length > MAX_PATH_BYTES) return undefined;
  if (p === '/') return '';
  return p.endsWith('/') ? p.slice(0, -1) : p;
}
