import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { envSchema } from '../../src/config/env.js';

// No Docker engine runs where the tests run, so this checks what can be checked without one:
// the file parses, each service is there with a healthcheck where it matters, and the app's
// environment names only settings the code knows.
const compose = parse(readFileSync('docker-compose.yml', 'utf8'), { merge: true }) as {
  services: Record<string, { image?: string; build?: string; command?: string[]; environment?: Record<string, string>; healthcheck?: unknown }>;
};
const known = Object.keys(envSchema.shape);

describe('docker-compose.yml', () => {
  it('defines the production-shaped stack', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['api', 'migrate', 'postgres', 'temporal', 'temporal-setup', 'temporal-ui', 'worker']);
    expect(compose.services.postgres!.image).toMatch(/^postgres:\d+/);
    expect(compose.services.temporal!.image).toMatch(/^temporalio\/auto-setup:\d+\.\d+\.\d+$/);
    expect(compose.services['temporal-ui']!.image).toMatch(/^temporalio\/ui:\d+\.\d+\.\d+$/);
    // The search attributes the workflow sets must be registered, as the dev server does with --search-attribute.
    const setup = JSON.stringify(compose.services['temporal-setup']!.command);
    for (const name of ['ProjectId', 'RepoId', 'CloneStatus']) expect(setup).toContain(name);
  });

  it('builds api, worker and migrate from this repository and runs their compiled entry points', () => {
    expect(compose.services.api!.command).toEqual(['node', 'dist/api/server.js']);
    expect(compose.services.worker!.command).toEqual(['node', 'dist/worker/main.js']);
    expect(compose.services.migrate!.command).toEqual(['node', 'dist/db/migrate-main.js']);
    for (const name of ['api', 'worker', 'migrate']) expect(compose.services[name]!.build).toBe('.');
  });

  it('gives the stateful services and the API healthchecks', () => {
    for (const name of ['postgres', 'temporal', 'api']) expect(compose.services[name]!.healthcheck).toBeDefined();
  });

  it('sets only configuration the code reads', () => {
    for (const name of ['api', 'worker', 'migrate']) {
      const unknown = Object.keys(compose.services[name]!.environment ?? {}).filter((k) => !known.includes(k));
      expect(unknown, name).toEqual([]);
    }
  });
});
