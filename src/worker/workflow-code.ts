import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(import.meta.url);
const compiled = path.extname(here) === '.js';

/** The workflow sources next to this file: `.ts` under tsx and vitest, `.js` once compiled. */
export const WORKFLOWS_PATH = fileURLToPath(new URL(`../workflows/index${path.extname(here)}`, import.meta.url));

/** Where `npm run build` writes the workflow bundle: beside the compiled sources it was made from. */
export const WORKFLOW_BUNDLE_PATH = fileURLToPath(new URL('../workflow-bundle.js', import.meta.url));

/** What the bundle is made of: the workflows and the definitions they share with the rest. */
const BUNDLED_DIRS = ['workflows', 'shared'].map((dir) => fileURLToPath(new URL(`../${dir}/`, import.meta.url)));

export type WorkflowCode = { workflowBundle: { codePath: string } } | { workflowsPath: string };

/**
 * The prebuilt bundle when running compiled and it is newer than every file it was made from;
 * otherwise the sources, which the worker bundles at start. Bundling (webpack) in the worker
 * costs a second or two of start-up and leaves ~100 MB in the process for its whole life.
 */
export function workflowCode(): WorkflowCode {
  if (compiled && bundleIsCurrent()) return { workflowBundle: { codePath: WORKFLOW_BUNDLE_PATH } };
  return { workflowsPath: WORKFLOWS_PATH };
}

function bundleIsCurrent(): boolean {
  if (!existsSync(WORKFLOW_BUNDLE_PATH)) return false;
  const built = statSync(WORKFLOW_BUNDLE_PATH).mtimeMs;
  return BUNDLED_DIRS.every((dir) => readdirSync(dir).every((file) => statSync(path.join(dir, file)).mtimeMs <= built));
}
