/** PATH_MAX: no file of a checkout can have a longer path. */
const MAX_PATH_BYTES = 4096;

export const REPO_PATH_RULE =
  'must be a path inside the repository (no `..`, `.` or empty segments, NUL, backslash or leading /)';

/**
 * A path inside the repository as git names it (`src/a.ts`, no leading `/`), or '' for the root
 * (given as '' or '/'); one trailing `/` is allowed. Undefined for `..`, `.` and empty segments,
 * NUL, backslashes and absolute paths, so a path can only name an entry of a commit's tree.
 */
export function repoPathOf(p: string): string | undefined {
  if (p === '' || p === '/') return '';
  const relative = p.endsWith('/') ? p.slice(0, -1) : p;
  const refused =
    p.startsWith('/') ||
    p.includes('\0') ||
    p.includes('\\') ||
    new TextEncoder().encode(p).length > MAX_PATH_BYTES ||
    relative.split('/').some((segment) => segment === '' || segment === '.' || segment === '..');
  return refused ? undefined : relative;
}
