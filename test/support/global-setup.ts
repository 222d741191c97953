import type { TestProject } from 'vitest/node';
import { createLogger } from '../../src/config/logger.js';
import { startStack } from './start-stack.js';

/**
 * Starts the real services the integration tests run against (see `startStack`) and hands them
 * to every test through `inject('stack')`. Everything is torn down at the end, also when a test
 * or this setup fails.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const { stack, stop } = await startStack(createLogger({ level: 'info', pretty: false }));
  project.provide('stack', stack);
  return stop;
}
