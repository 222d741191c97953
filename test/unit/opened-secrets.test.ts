import { describe, expect, it } from 'vitest';
import { ApiError } from '../../src/api/errors.js';
import { openedSecrets, type SecretKey } from '../../src/api/opened-secrets.js';

const wide = { burst: 1000, perMinute: 1000 };
const key = (repoId: string, projectId = 'p1', from = 'k1:c1'): SecretKey => ({ repoId, projectId, from });

/** A key service that counts its calls and answers when told to. */
function keyService() {
  let calls = 0;
  const waiting: Array<() => void> = [];
  return {
    open: (repoId: string) => () => {
      calls += 1;
      return new Promise<string>((resolve) => waiting.push(() => resolve(`secret-of-${repoId}`)));
    },
    answerAll: () => waiting.splice(0).forEach((answer) => answer()),
    calls: () => calls,
  };
}

describe('opened webhook secrets', () => {
  it('concurrent misses of one repository share one key-service call; a hit costs none', async () => {
    const kms = keyService();
    const secrets = openedSecrets({
      ttlMs: 60_000,
      max: 10,
      budgets: { repository: wide, project: wide, process: wide },
    });
    const all = Promise.all(Array.from({ length: 20 }, () => secrets.secretOf(key('r1'), kms.open('r1'))));
    kms.answerAll();
    expect(new Set(await all)).toEqual(new Set(['secret-of-r1']));
    expect(kms.calls()).toBe(1);
    await secrets.secretOf(key('r1'), kms.open('r1'));
    expect(kms.calls()).toBe(1);
  });

  it('a changed stored form (re-wrapped, or the row replaced) is opened again', async () => {
    const kms = keyService();
    const secrets = openedSecrets({
      ttlMs: 60_000,
      max: 10,
      budgets: { repository: wide, project: wide, process: wide },
    });
    const first = secrets.secretOf(key('r1'), kms.open('r1'));
    kms.answerAll();
    await first;
    const second = secrets.secretOf(key('r1', 'p1', 'k2:c2'), kms.open('r1'));
    kms.answerAll();
    await second;
    expect(kms.calls()).toBe(2);
  });

  it("one project cycling through its repositories spends its own budget, not the other projects'", async () => {
    const kms = keyService();
    const secrets = openedSecrets({
      ttlMs: 60_000,
      max: 100,
      budgets: { repository: wide, project: { burst: 5, perMinute: 1 }, process: { burst: 50, perMinute: 1 } },
    });
    const opened: Array<Promise<string>> = [];
    for (let i = 0; i < 5; i += 1) opened.push(secrets.secretOf(key(`noisy-${i}`, 'noisy'), kms.open(`noisy-${i}`)));
    await expect(secrets.secretOf(key('noisy-5', 'noisy'), kms.open('noisy-5'))).rejects.toSatisfy(
      (err) => err instanceof ApiError && err.status === 429,
    );
    opened.push(secrets.secretOf(key('quiet-1', 'quiet'), kms.open('quiet-1')));
    kms.answerAll();
    expect(await Promise.all(opened)).toContain('secret-of-quiet-1');
    expect(kms.calls()).toBe(6);
  });

  it('the process budget caps key-service calls whatever the projects', async () => {
    const kms = keyService();
    const secrets = openedSecrets({
      ttlMs: 60_000,
      max: 100,
      budgets: { repository: wide, project: wide, process: { burst: 3, perMinute: 1 } },
    });
    for (let i = 0; i < 3; i += 1) void secrets.secretOf(key(`r${i}`, `p${i}`), kms.open(`r${i}`));
    await expect(secrets.secretOf(key('r9', 'p9'), kms.open('r9'))).rejects.toBeInstanceOf(ApiError);
    expect(kms.calls()).toBe(3);
    kms.answerAll();
  });

  it("secrets only opened (a forger's misses) are evicted before those a verified delivery used", async () => {
    const kms = keyService();
    const secrets = openedSecrets({
      ttlMs: 60_000,
      max: 2,
      budgets: { repository: wide, project: wide, process: wide },
    });
    const real = secrets.secretOf(key('real'), kms.open('real'));
    kms.answerAll();
    await real;
    secrets.verifiedWith(key('real'));
    for (let i = 0; i < 10; i += 1) {
      const forged = secrets.secretOf(key(`forged-${i}`), kms.open(`forged-${i}`));
      kms.answerAll();
      await forged;
    }
    expect(secrets.size()).toEqual({ verified: 1, unverified: 2 });
    const calls = kms.calls();
    await secrets.secretOf(key('real'), kms.open('real'));
    expect(kms.calls()).toBe(calls);
  });

  it('a secret past its time is opened again', async () => {
    const kms = keyService();
    const clock = { now: 0 };
    const secrets = openedSecrets({
      ttlMs: 1000,
      max: 10,
      budgets: { repository: wide, project: wide, process: wide },
      now: () => clock.now,
    });
    const first = secrets.secretOf(key('r1'), kms.open('r1'));
    kms.answerAll();
    await first;
    clock.now = 1001;
    const again = secrets.secretOf(key('r1'), kms.open('r1'));
    kms.answerAll();
    await again;
    expect(kms.calls()).toBe(2);
  });
});
