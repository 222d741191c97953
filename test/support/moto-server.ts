import { spawn } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../src/config/logger.js';
import { exited, tail, terminate } from '../../src/dev-stack/child-process.js';
import { findPython, pipInstallInto } from '../../src/dev-stack/pip.js';
import { freePort } from '../../src/runtime/ports.js';
import { TOOLS_DIR } from '../../src/dev-stack/temporal-cli.js';

/** moto, the AWS API emulator from PyPI, pinned; it serves a real KMS API over HTTP. */
export const MOTO_VERSION = '5.2.5';

export interface MotoServer {
  endpoint: string;
  stop(): Promise<void>;
}

/** Installs moto[server] into the tools folder if needed and starts it on a free port. */
export async function startMotoServer(logger: Logger): Promise<MotoServer> {
  const target = path.join(TOOLS_DIR, `moto-${MOTO_VERSION}`);
  const python = await findPython();
  if (!python || !(await pipInstallInto(`moto[server]==${MOTO_VERSION}`, target, logger))) {
    throw new Error(
      `Cannot provision the KMS emulator: install python3 with pip, or \`pip install moto[server]==${MOTO_VERSION}\`.`,
    );
  }
  const port = await freePort();
  const child = spawn(python, ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)], {
    env: { ...process.env, PYTHONPATH: target },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = tail();
  child.stdout.on('data', output.push);
  child.stderr.on('data', output.push);
  const endpoint = `http://127.0.0.1:${port}`;
  let dead = false;
  void exited(child).then(() => (dead = true));
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && !dead) {
    try {
      if ((await fetch(`${endpoint}/moto-api/`)).ok) return { endpoint, stop: () => terminate(child) };
    } catch {
      // not listening yet
    }
    await sleep(200);
  }
  await terminate(child);
  throw new Error(`moto server did not start: ${output.text()}`);
}
