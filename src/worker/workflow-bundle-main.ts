import { writeFile } from 'node:fs/promises';
import { DefaultLogger } from '@temporalio/worker';
import { BUNDLE_SOURCES_FILE, bundleSourcesDigest, bundleWorkflows, workflowBundlePath } from './workflow-code.js';

// Run by `npm run build` after tsc: workers started from dist/ load one of these instead of bundling at start.
for (const traced of [false, true]) {
  const code = await bundleWorkflows({ traced, logger: new DefaultLogger('WARN') });
  await writeFile(workflowBundlePath(traced), code);
  process.stdout.write(
    `workflow bundle written: ${workflowBundlePath(traced)} (${(code.length / 1024 / 1024).toFixed(2)} MB)\n`,
  );
}
await writeFile(BUNDLE_SOURCES_FILE, `${bundleSourcesDigest()}\n`);
