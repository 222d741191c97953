import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gitEnvironment } from './git-env.js';
import { mapFailure, sizeWatch, type Budgeted } from './operations.js';
import { GitProcessError, runGit } from './run-git.js';
import { TreeEstimate, type TreeStats } from './tree-estimate.js';

export interface TreeOptions {
  idleTimeoutMs: number;
  maxOutputBytes?: number;
  /** The sandboxes' filesystem block size, which the estimate rounds to. */
  blockSize: number;
  /** The listing stops as soon as the estimate so far passes this: it can only grow. */
  over: (stats: TreeStats) => boolean;
}

/**
 * What checking out `rev` would allocate (blocks, inodes, files, `.git/index` included), read from
 * the object database without writing anything; stopped early, a lower bound of that estimate.
 */
export async function headTreeStats(repoDir: string, o: TreeOptions, rev = 'HEAD'): Promise<TreeStats> {
  const estimate = new TreeEstimate(o.blockSize);
  try {
    await runGit({
      args: ['-C', repoDir, 'ls-tree', '-r', '-t', '-l', '-z', '--full-tree', rev],
      env: gitEnvironment({ allowHttp: false }),
      idleTimeoutMs: o.idleTimeoutMs,
      maxStdoutBytes: o.maxOutputBytes,
      onStdout: (chunk) => {
        estimate.add(chunk);
        return o.over(estimate.stats()) ? 'over budget' : undefined;
      },
    });
  } catch (err) {
    if (err instanceof GitProcessError && err.reason === 'watch') return estimate.stats();
    // An empty repository has no HEAD commit: nothing to check out.
    if (err instanceof GitProcessError && /Not a valid object name HEAD|not a tree object/.test(err.stderr))
      return { bytes: 0, inodes: 0, files: 0 };
    throw mapFailure(err);
  }
  return estimate.stats();
}

/**
 * Checkout writes blobs as they are: no end-of-line conversion, no re-encoding, no ident
 * expansion, whatever the repository's .gitattributes ask. So the working tree is exactly the
 * size read from the tree before checkout (eol=crlf or a UTF-16 working-tree-encoding could
 * otherwise double it past the budget), and byte for byte what the repository holds.
 */
const VERBATIM_CHECKOUT_ATTRIBUTES = '* -text -ident -working-tree-encoding\n';

/** Before every checkout: the repository's own .gitattributes cannot have changed what it writes. */
export async function writeVerbatimAttributes(repoDir: string): Promise<void> {
  await mkdir(path.join(repoDir, '.git', 'info'), { recursive: true });
  await writeFile(path.join(repoDir, '.git', 'info', 'attributes'), VERBATIM_CHECKOUT_ATTRIBUTES);
}

/** Writes the working tree of HEAD (symlinks as plain files, no hooks, no filters, no conversions). */
export async function checkoutHead(
  repoDir: string,
  o: Budgeted & { idleTimeoutMs: number; signal?: AbortSignal; background?: boolean },
): Promise<void> {
  await writeVerbatimAttributes(repoDir);
  try {
    await runGit({
      args: ['-C', repoDir, 'checkout', '--quiet', 'HEAD', '--', '.'],
      env: gitEnvironment({ allowHttp: false }),
      idleTimeoutMs: o.idleTimeoutMs,
      signal: o.signal,
      maxFileBytes: o.limitBytes,
      background: o.background,
      // The tree's size was checked before checkout; this is the safety net, so it may look less often.
      watch: sizeWatch(o, 1000),
    });
  } catch (err) {
    throw mapFailure(err);
  }
}

/** The full SHA of the commit `rev` names; null when it names none (a repository without commits, an absent ref). */
export async function commitOf(repoDir: string, rev: string, idleTimeoutMs: number): Promise<string | null> {
  try {
    const out = await runGit({
      args: ['-C', repoDir, 'rev-parse', '--verify', '--quiet', `${rev}^{commit}`],
      env: gitEnvironment({ allowHttp: false }),
      idleTimeoutMs,
    });
    return out.trim() || null;
  } catch (err) {
    if (err instanceof GitProcessError && err.reason === 'failed' && err.exitCode === 1) return null;
    throw mapFailure(err);
  }
}

/** The full SHA of the commit checked out; null for a repository without commits. */
export const headCommit = (repoDir: string, idleTimeoutMs: number): Promise<string | null> =>
  commitOf(repoDir, 'HEAD', idleTimeoutMs);
