import { writeFile } from 'node:fs/promises';
import { DefaultLogger } from '@temporalio/worker';
import { BUNDLE_SOURCES_FILE, bundleSourcesDigest, bundleWorkflows, WORKFLOW_BUNDLE_PATH } from './workflow-code.js';

// Run by `npm run build` after tsc: workers started from dist/ load this instead of bundling at start.
const code = await bundleWorkflows(new DefaultLogger('WARN'));
await writeFile(WORKFLOW_BUNDLE_PATH, code);
await writeFile(BUNDLE_SOURCES_FILE, `${bundleSourcesDigest()}\n`);
process.stdout.write(`workflow bundle written: ${WORKFLOW_BUNDLE_PATH} (${(code.length / 1024 / 1024).toFixed(2)} MB)\n`);
