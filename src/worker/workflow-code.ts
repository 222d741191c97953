import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, type Logger as SdkLogger } from '@temporalio/worker';
import { FAILURE_CONVERTER_PATH } from '../crypto/payload-codec.js';

const here = fileURLToPath(import.meta.url);
const compiled = path.extname(here) === '.js';

/** The workflow sources next to this file: `.ts` under tsx and vitest, `.js` once compiled. */
export const WORKFLOWS_PATH = fileURLToPath(new URL(`../workflows/index${path.extname(here)}`, import.meta.url));

/** Where `npm run build` writes the workflow bundles: beside the compiled sources they are made from. */
export const workflowBundlePath = (traced: boolean): string =>
  fileURLToPath(new URL(traced ? '../workflow-bundle-traced.js' : '../workflow-bundle.js', import.meta.url));
/** The digest of what the bundle was made from (bundleSourcesDigest), written beside it. */
export const BUNDLE_SOURCES_FILE = fileURLToPath(new URL('../workflow-bundle.sources', import.meta.url));

/** What goes into the bundle besides the SDK: the workflows and what they share with the rest. */
const BUNDLED_DIRS = ['workflows', 'shared'].map((dir) => fileURLToPath(new URL(`../${dir}/`, import.meta.url)));

const require = createRequire(import.meta.url);
/**
 * Temporal's OpenTelemetry interceptors, run inside each workflow while tracing is on: the trace
 * goes on through the workflow to its activities. Only then: they keep state of their own in every
 * open workflow (about 0.7 MB each, BENCHMARKS.md B8). They add no commands, so a run started with
 * them replays without them and the other way round (test/replay checks both).
 */
const TRACING_INTERCEPTORS_PATH = require.resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors');
export const workflowInterceptorModules = (traced: boolean): string[] => (traced ? [TRACING_INTERCEPTORS_PATH] : []);

export type WorkflowCode =
  { workflowBundle: { codePath: string } } | { workflowsPath: string; workflowModules: string[] };

/**
 * The workflow code, bundled as every worker must run it: with the failure converter, so the
 * messages and stacks of the workflow's own failures reach history encrypted like everything
 * else; and with the tracing interceptors when `traced`.
 */
export async function bundleWorkflows(options: { traced: boolean; logger?: SdkLogger }): Promise<string> {
  const { code } = await bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    workflowInterceptorModules: workflowInterceptorModules(options.traced),
    failureConverterPath: FAILURE_CONVERTER_PATH,
    ...(options.logger ? { logger: options.logger } : {}),
  });
  return code;
}

/** A digest of everything the bundle is made from: each source file's path and bytes, and the SDK's version. */
export function bundleSourcesDigest(): string {
  const hash = createHash('sha256');
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(file);
      else if (!entry.name.endsWith('.map')) hash.update(file).update(readFileSync(file));
    }
  };
  BUNDLED_DIRS.forEach(walk);
  for (const pkg of ['@temporalio/workflow', '@temporalio/interceptors-opentelemetry'])
    hash.update((require(`${pkg}/package.json`) as { version: string }).version);
  hash.update(FAILURE_CONVERTER_PATH).update(TRACING_INTERCEPTORS_PATH);
  return hash.digest('hex');
}

/**
 * The prebuilt bundle (traced or not) when running compiled and it was made from exactly the
 * sources and SDK present now; otherwise the sources, which the worker bundles at start. Bundling
 * (webpack) in the worker costs a second or two of start-up and leaves ~100 MB in the process.
 */
export function workflowCode(traced: boolean): WorkflowCode {
  const bundle = workflowBundlePath(traced);
  const current =
    compiled &&
    existsSync(bundle) &&
    existsSync(BUNDLE_SOURCES_FILE) &&
    readFileSync(BUNDLE_SOURCES_FILE, 'utf8').trim() === bundleSourcesDigest();
  return current
    ? { workflowBundle: { codePath: bundle } }
    : { workflowsPath: WORKFLOWS_PATH, workflowModules: workflowInterceptorModules(traced) };
}
