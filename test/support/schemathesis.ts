import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../../src/config/logger.js';
import { exited, tail, terminate } from '../../src/dev-stack/child-process.js';
import { findPython, pipInstallInto } from '../../src/dev-stack/pip.js';
import { TOOLS_DIR } from '../../src/dev-stack/temporal-cli.js';

/** schemathesis, the OpenAPI fuzzer from PyPI, pinned (its checks and CLI change between minor versions). */
export const SCHEMATHESIS_VERSION = '4.32.5';

/** The environment variable the config file reads the bearer token from: never on a command line. */
const TOKEN_VARIABLE = 'REPO_CONNECTOR_FUZZ_TOKEN';
const HOOKS = fileURLToPath(new URL('./schemathesis-hooks.py', import.meta.url));

export interface SchemathesisRun {
  exitCode: number | null;
  /** The end of what it printed (its summary). */
  output: string;
}

/** Installs schemathesis into the tools folder if needed; returns how to run it. */
export async function provisionSchemathesis(logger: Logger): Promise<{ python: string; pythonPath: string }> {
  const target = path.join(TOOLS_DIR, `schemathesis-${SCHEMATHESIS_VERSION}`);
  const python = await findPython();
  if (!python || !(await pipInstallInto(`schemathesis==${SCHEMATHESIS_VERSION}`, target, logger))) {
    throw new Error(
      `Cannot provision schemathesis: install python3 with pip, or \`pip install schemathesis==${SCHEMATHESIS_VERSION}\`.`,
    );
  }
  return { python, pythonPath: target };
}

/**
 * `schemathesis run <schemaUrl> <args>` in `workDir` (its reports and Hypothesis' files stay
 * there), with our hooks (schemathesis-hooks.py), authenticated as the document's `bearerAuth`
 * scheme with `token` through a config file that names an environment variable; killed after `timeoutMs`.
 */
export async function runSchemathesis(
  tool: { python: string; pythonPath: string },
  options: { schemaUrl: string; token: string; args: string[]; workDir: string; timeoutMs: number },
): Promise<SchemathesisRun> {
  const config = path.join(options.workDir, 'schemathesis.toml');
  await writeFile(
    config,
    [`hooks = ${JSON.stringify(HOOKS)}`, '[auth.openapi.bearerAuth]', `bearer = "\${${TOKEN_VARIABLE}}"`, ''].join(
      '\n',
    ),
  );
  const child = spawn(
    tool.python,
    ['-m', 'schemathesis.cli', '--config-file', config, 'run', options.schemaUrl, ...options.args],
    {
      cwd: options.workDir,
      env: {
        ...process.env,
        PYTHONPATH: tool.pythonPath,
        [TOKEN_VARIABLE]: options.token,
        NO_COLOR: '1',
        COLUMNS: '160',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const output = tail(64_000);
  child.stdout.on('data', output.push);
  child.stderr.on('data', output.push);
  const timer = setTimeout(() => void terminate(child), options.timeoutMs);
  try {
    await exited(child);
  } finally {
    clearTimeout(timer);
  }
  return { exitCode: child.exitCode, output: output.text() };
}
