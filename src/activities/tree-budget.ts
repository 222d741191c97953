import { headTreeStats } from '../git/checkout.js';
import type { TreeStats } from '../git/tree-estimate.js';
import { sandboxBlockSize, type ActivitySettings } from './deps.js';
import { budgetHit, overBudget, type SizeStage, type Usage } from './size-budget.js';

/**
 * Refuses, before anything is checked out, a tree whose checkout (estimated from the object
 * database) would take `present` past a budget: blocks, inodes or files. Returns the total.
 */
export async function checkTreeBudget(
  stage: SizeStage,
  s: ActivitySettings,
  repoDir: string,
  present: Usage,
  rev = 'HEAD',
): Promise<Usage & TreeStats> {
  const withTree = (tree: TreeStats) => ({
    bytes: present.bytes + tree.bytes,
    inodes: present.inodes + tree.inodes,
    files: tree.files,
  });
  const tree = await headTreeStats(
    repoDir,
    {
      idleTimeoutMs: s.gitCloneTimeoutSeconds * 1000,
      maxOutputBytes: s.maxGitOutputBytes,
      blockSize: await sandboxBlockSize(s),
      over: (t) => budgetHit(withTree(t), s) !== undefined,
    },
    rev,
  );
  const total = withTree(tree);
  if (budgetHit(total, s)) throw overBudget(stage, s, total);
  return total;
}
