import { randomBytes } from 'node:crypto';
import { type KMSClient } from '@aws-sdk/client-kms';
import { decryptSecret, encryptSecret, type KeyProvider } from '../../src/crypto/envelope.js';
import { createKmsKeyProvider } from '../../src/crypto/kms-provider.js';
import { createLocalKeyProvider } from '../../src/crypto/local-provider.js';
import { createKmsKey, kmsClient } from '../../test/support/kms.js';
import type { Bench, BenchContext } from '../context.js';
import { median, ms, percentile, repeat } from '../stats.js';

const TOKEN = `ghp_${randomBytes(18).toString('hex')}`;

/** Encrypt + decrypt of one token, `samples` times: the p50 and p99 of each round trip, in ms. */
async function roundTrips(provider: KeyProvider, samples: number) {
  const times: number[] = [];
  for (let i = 0; i < samples; i++) {
    const start = performance.now();
    const sealed = await encryptSecret(provider, TOKEN, 'bench:context');
    if ((await decryptSecret(provider, sealed.ciphertext, sealed.keyId, 'bench:context')) !== TOKEN)
      throw new Error('B6: round trip changed the token');
    times.push(performance.now() - start);
  }
  return { p50: percentile(times, 50), p99: percentile(times, 99) };
}

/** A KMS client on the run's moto that counts the calls it sends. */
function countingKmsClient(endpoint: string): { client: KMSClient; calls: () => number } {
  const client = kmsClient(endpoint);
  let calls = 0;
  client.middlewareStack.add(
    (next) => (args) => {
      calls++;
      return next(args);
    },
    { step: 'initialize', name: 'benchCallCounter' },
  );
  return { client, calls: () => calls };
}

async function kmsRoundTrips(ctx: BenchContext, samples: number) {
  const counting = countingKmsClient(ctx.stack.kmsEndpoint);
  const provider = createKmsKeyProvider({ client: counting.client, keyId: await createKmsKey(counting.client) });
  const before = counting.calls();
  const sealed = await encryptSecret(provider, TOKEN, 'bench:context');
  const encryptCalls = counting.calls() - before;
  await decryptSecret(provider, sealed.ciphertext, sealed.keyId, 'bench:context');
  const decryptCalls = counting.calls() - before - encryptCalls;
  return { ...(await roundTrips(provider, samples)), encryptCalls, decryptCalls };
}

/** B6: envelope encryption round trips (src/crypto/envelope.ts) with a local key and with KMS (moto). */
export const envelope: Bench = {
  ids: ['B6'],
  async run(ctx) {
    const local = createLocalKeyProvider(randomBytes(32));
    await roundTrips(local, 200);
    const locals = await repeat(ctx.runs, () => roundTrips(local, 2000));
    const kms = await repeat(ctx.runs, () => kmsRoundTrips(ctx, 50));
    const localP50 = median(locals.map((r) => r.p50));
    const kmsP50 = median(kms.map((r) => r.p50));
    const calls = kms[0]!;
    return [
      {
        id: 'B6',
        what: `envelope encrypt + decrypt (median of ${ctx.runs})`,
        measured: `local p50 ${ms(localP50)} p99 ${ms(median(locals.map((r) => r.p99)))}; KMS p50 ${ms(kmsP50)}; KMS calls ${calls.encryptCalls} encrypt, ${calls.decryptCalls} decrypt`,
        floor: '— (1 KMS call per operation)',
        ratio: '—',
        goal: 'local p50 ≤ 0.2 ms, exactly 1 KMS call each',
        met: localP50 <= 0.2 && calls.encryptCalls === 1 && calls.decryptCalls === 1,
        data: { localP50, kmsP50, locals, kms },
      },
    ];
  },
};
