import { writeFile } from 'node:fs/promises';
import { BUNDLE_SOURCES_FILE, bundleSourcesDigest, bundleWorkflows, WORKFLOW_BUNDLE_PATH } from './workflow-code.js';

// Run by `npm run build` after tsc: workers started from dist/ load this instead of bundling at start.
const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error };
const code = await bundleWorkflows(quiet);
await writeFile(WORKFLOW_BUNDLE_PATH, code);
await writeFile(BUNDLE_SOURCES_FILE, `${bundleSourcesDigest()}\n`);
process.stdout.write(`workflow bundle written: ${WORKFLOW_BUNDLE_PATH} (${(code.length / 1024 / 1024).toFixed(2)} MB)\n`);
