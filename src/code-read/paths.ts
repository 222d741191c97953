import { repoPathOf } from '../shared/repo-path.js';
import { CodeReadError } from './errors.js';

/** A path inside the repository by the one rule (src/shared/repo-path.ts), '' for the root; else invalid_path. */
export function validatePath(p: string): string {
  const path = repoPathOf(p);
  if (path === undefined) throw new CodeReadError('invalid_path', 'Not a path inside the repository');
  return path;
}
