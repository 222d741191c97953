import { CodeReadError } from './errors.js';

/** PATH_MAX: no file of a checkout can have a longer path. */
const MAX_PATH_BYTES = 4096;

/**
 * A path inside the repository as git names it (`src/a.ts`, no leading `/`), or '' for the root
 * (given as '' or '/'); one trailing `/` is allowed. Refused: `..`, `.` and empty segments, NUL,
 * backslashes and absolute paths, so a path can only name an entry of the commit's tree.
 */
export function validatePath(p: string): string {
  if (p === '' || p === '/') return '';
  const relative = p.endsWith('/') ? p.slice(0, -1) : p;
  const refused =
    p.startsWith('/') ||
    p.includes('\0') ||
    p.includes('\\') ||
    Buffer.byteLength(p) > MAX_PATH_BYTES ||
    relative.split('/').some((segment) => segment === '' || segment === '.' || segment === '..');
  if (refused) throw new CodeReadError('invalid_path', 'Not a path inside the repository');
  return relative;
}
