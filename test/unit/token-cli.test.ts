import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const SECRET = 'a-test-secret-of-at-least-32-characters';

/** `npm run token -- <args>`, with the environment given. */
async function token(args: string[], env: Record<string, string> = {}) {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'src/dev/token.ts', ...args], {
    env: { PATH: process.env.PATH!, JWT_SECRET: SECRET, ...env },
    timeout: 30_000,
  });
  return decodeJwt(stdout.trim());
}

describe('npm run token', () => {
  it("mints an end user's token and an operator's with --operator (never with the identity provider's iss/aud)", async () => {
    const [user, operator, bound] = await Promise.all([
      token(['alice']),
      token(['alice', '600', '--operator']),
      token(['--operator', 'bob'], {
        JWT_ISSUER: 'https://issuer.test',
        JWT_AUDIENCE: 'repo-connector',
        CODEC_OPERATOR_SCOPE: 'ops',
      }),
    ]);
    expect(user).toMatchObject({ sub: 'alice' });
    expect(user.scope).toBeUndefined();
    expect(user.exp! - user.iat!).toBe(3600);
    expect(operator).toMatchObject({ sub: 'alice', scope: 'codec:operator' });
    expect(operator.exp! - operator.iat!).toBe(600);
    expect(bound).toMatchObject({ sub: 'bob', scope: 'ops' });
    expect([bound.iss, bound.aud]).toEqual([undefined, undefined]);
  }, 60_000);

  it('says how to use it when the arguments are wrong (exit 64)', async () => {
    await expect(
      run(process.execPath, ['--import', 'tsx', 'src/dev/token.ts', 'alice', '60', 'extra'], {
        env: { PATH: process.env.PATH!, JWT_SECRET: SECRET },
      }),
    ).rejects.toMatchObject({ code: 64, stderr: expect.stringContaining('--operator') });
  }, 30_000);
});
