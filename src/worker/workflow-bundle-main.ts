import { writeFile } from 'node:fs/promises';
import { bundleWorkflowCode } from '@temporalio/worker';
import { WORKFLOW_BUNDLE_PATH, WORKFLOWS_PATH } from './workflow-code.js';

// Run by `npm run build` after tsc: workers started from dist/ load this instead of bundling at start.
const { code } = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: { log() {}, trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error } });
await writeFile(WORKFLOW_BUNDLE_PATH, code);
process.stdout.write(`workflow bundle written: ${WORKFLOW_BUNDLE_PATH} (${(code.length / 1024 / 1024).toFixed(2)} MB)\n`);
