import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { envSchema } from '../../src/config/env.js';
import { loadConfig } from '../../src/config/load-config.js';

// No Docker engine runs where the tests run, so this checks what can be checked without one:
// the file parses, each service is there with a healthcheck where it matters, and the app's
// environment names only settings the code knows.
const compose = parse(readFileSync('docker-compose.yml', 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
};
interface Service {
  image?: string;
  build?: string;
  command?: string[];
  environment?: Record<string, string>;
  healthcheck?: unknown;
  deploy?: { replicas?: number };
  ports?: string[];
  volumes?: string[];
}
const known = Object.keys(envSchema.shape);
const workers = Object.keys(compose.services)
  .filter((name) => /^worker-\d+$/.test(name))
  .sort();
const apps = ['api', ...workers, 'migrate'];

describe('docker-compose.yml', () => {
  it('defines the production-shaped stack', () => {
    expect(Object.keys(compose.services).sort()).toEqual([
      'api',
      'migrate',
      'postgres',
      'temporal',
      'temporal-setup',
      'temporal-ui',
      'worker-1',
      'worker-2',
    ]);
    expect(compose.services.postgres!.image).toMatch(/^postgres:\d+/);
    expect(compose.services.temporal!.image).toMatch(/^temporalio\/auto-setup:\d+\.\d+\.\d+$/);
    expect(compose.services['temporal-ui']!.image).toMatch(/^temporalio\/ui:\d+\.\d+\.\d+$/);
    // The search attributes the workflow sets must be registered, as the dev server does with --search-attribute.
    const setup = JSON.stringify(compose.services['temporal-setup']!.command);
    for (const name of ['ProjectId', 'RepoId', 'CloneStatus']) expect(setup).toContain(name);
  });

  it('builds api, worker and migrate from this repository and runs their compiled entry points', () => {
    expect(compose.services.api!.command).toEqual(['node', 'dist/api/server.js']);
    for (const name of workers) expect(compose.services[name]!.command).toEqual(['node', 'dist/worker/main.js']);
    expect(compose.services.migrate!.command).toEqual(['node', 'dist/db/migrate-main.js']);
    for (const name of apps) expect(compose.services[name]!.build).toBe('.');
  });

  it('gives the stateful services and the API healthchecks', () => {
    for (const name of ['postgres', 'temporal', 'api']) expect(compose.services[name]!.healthcheck).toBeDefined();
  });

  it('sets only configuration the code reads', () => {
    for (const name of apps) {
      const unknown = Object.keys(compose.services[name]!.environment ?? {}).filter((k) => !known.includes(k));
      expect(unknown, name).toEqual([]);
    }
  });

  it('runs the API as replicas, each on a port of its own', () => {
    const api = compose.services.api!;
    const replicas = api.deploy?.replicas ?? 1;
    expect(replicas).toBeGreaterThanOrEqual(2);
    const [range] = api.ports ?? [];
    const match = /^(\d+)-(\d+):8000$/.exec(range ?? '');
    expect(match, range).not.toBeNull();
    expect(Number(match![2]) - Number(match![1]) + 1).toBe(replicas);
  });

  it('runs each worker as a service of its own: a stable host id and a volume no other worker mounts', () => {
    expect(workers.length).toBeGreaterThanOrEqual(2);
    const hostIds = workers.map((name) => compose.services[name]!.environment?.WORKER_HOST_ID);
    expect(hostIds).toEqual(workers);
    const sandboxes = workers.map((name) => {
      const service = compose.services[name]!;
      // A replicated worker would share one host id between processes holding different files.
      expect(service.deploy?.replicas ?? 1, name).toBe(1);
      const mount = (service.volumes ?? []).find((v) => v.endsWith(`:${service.environment!.SANDBOX_BASE_PATH}`));
      expect(mount, name).toBeDefined();
      return mount!.split(':')[0]!;
    });
    expect(new Set(sandboxes).size).toBe(workers.length);
    for (const volume of sandboxes) expect(Object.keys(compose.volumes)).toContain(volume);
  });

  it("lets the Web UI decode through /codec with its signed-in operator's token, verified against the same provider", () => {
    const ui = compose.services['temporal-ui']!.environment!;
    const api = compose.services.api!.environment!;
    expect(ui.TEMPORAL_CODEC_ENDPOINT).toBe(
      `http://localhost:${/^(\d+)-/.exec(compose.services.api!.ports![0]!)![1]}/codec`,
    );
    expect(api.TEMPORAL_UI_ORIGINS!.split(',')).toContain(ui.TEMPORAL_CORS_ORIGINS);
    // The token it passes is the one the provider issued the signed-in user, asked with the operator scope.
    expect(ui.TEMPORAL_CODEC_PASS_ACCESS_TOKEN).toBe('true');
    expect(ui.TEMPORAL_AUTH_TYPE).toBe('oidc');
    expect(ui.TEMPORAL_AUTH_ENABLED).toMatch(/^\$\{TEMPORAL_UI_AUTH_ENABLED:-\w+\}$/);
    expect(ui.TEMPORAL_AUTH_SCOPES!.split(',')).toContain(
      api.CODEC_OPERATOR_SCOPE ?? loadConfig({}).CODEC_OPERATOR_SCOPE,
    );
    // The API trusts that provider: its key set, its issuer (the UI's), an audience of its own.
    expect(api.JWKS_URL).toMatch(/^\$\{OIDC_JWKS_URL:-\}$/);
    expect(api.JWT_ISSUER).toBe(ui.TEMPORAL_AUTH_ISSUER_URL);
    expect(api.JWT_AUDIENCE).toMatch(/^\$\{OIDC_AUDIENCE:-\}$/);
    // And never the token-less exception, which is for a loopback-bound API only.
    expect(api.CODEC_REQUIRE_AUTH ?? 'true').toBe('true');
  });
});

describe('the runtime', () => {
  it('builds and runs the image on Node.js 24 LTS, the version the suite also runs on and engines names', () => {
    const bases = [...readFileSync('Dockerfile', 'utf8').matchAll(/^FROM (\S+)/gm)].map((m) => m[1]);
    expect(bases).toEqual(['node:24-bookworm-slim', 'node:24-bookworm-slim']);
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as {
      engines: { node: string };
      scripts: Record<string, string>;
    };
    expect(pkg.engines.node.split(' || ')).toContain('^24');
    expect(readFileSync('scripts/node-24.sh', 'utf8')).toMatch(/^version=24\.\d+\.\d+$/m);
    expect(pkg.scripts.test).toContain('npm run test:node-24');
  });
});
