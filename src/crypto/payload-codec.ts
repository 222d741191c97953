import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DataConverter, Payload, PayloadCodec } from '@temporalio/common';
import proto from '@temporalio/proto';
import type { KeyProvider } from './envelope.js';
import { openCompact, sealCompact } from './envelope.js';

export const ENCRYPTED_ENCODING = 'binary/encrypted';
/** Payload metadata naming the key that wraps the payload's data key (plain, so it can be read without opening anything). */
export const PAYLOAD_KEY_ID = 'encryption-key-id';
const WRAPPED_KEY = 'encryption-wrapped-key';
const AAD = Buffer.from('temporal-payload:v1');

// A CommonJS module: Node's ESM loader sees only its default export.
const { Payload: PayloadMessage } = proto.temporal.api.common.v1;

const text = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array | null | undefined) => (b ? new TextDecoder().decode(b) : undefined);

/**
 * Encrypts every Temporal payload (inputs, results, signals, queries, updates, heartbeats and,
 * with the failure converter below, error messages and stacks) with AES-256-GCM. Each process
 * makes one data key through the key provider; its wrapped form and the wrapping key's id ride
 * in the payload's metadata, so any process holding the same keys (a worker, the API, the
 * codec endpoint for the Web UI) can open it.
 */
export class EncryptionCodec implements PayloadCodec {
  private session: Promise<{ plaintext: Buffer; wrapped: Buffer; keyId: string }> | undefined;
  private readonly opened = new Map<string, Promise<Buffer>>();

  constructor(private readonly keys: KeyProvider) {}

  async encode(payloads: Payload[]): Promise<Payload[]> {
    this.session ??= this.keys.generateDataKey();
    const { plaintext: key, wrapped, keyId } = await this.session;
    return payloads.map((payload) => ({
      metadata: {
        encoding: text(ENCRYPTED_ENCODING),
        [PAYLOAD_KEY_ID]: text(keyId),
        [WRAPPED_KEY]: text(wrapped.toString('base64')),
      },
      data: sealCompact(key, Buffer.from(PayloadMessage.encode(payload).finish()), AAD),
    }));
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return Promise.all(
      payloads.map(async (payload) => {
        if (str(payload.metadata?.encoding) !== ENCRYPTED_ENCODING) return payload;
        const keyId = str(payload.metadata?.[PAYLOAD_KEY_ID]);
        const wrapped = str(payload.metadata?.[WRAPPED_KEY]);
        if (!keyId || !wrapped || !payload.data) throw new Error('Encrypted payload without its key metadata');
        const key = await this.dataKey(wrapped, keyId);
        return PayloadMessage.decode(openCompact(key, Buffer.from(payload.data), AAD));
      }),
    );
  }

  /** Opened data keys are kept, so each wrapped key costs one KMS call per process. */
  private dataKey(wrapped: string, keyId: string): Promise<Buffer> {
    const cacheKey = `${keyId}:${wrapped}`;
    let key = this.opened.get(cacheKey);
    if (!key) {
      key = this.keys.decryptDataKey(Buffer.from(wrapped, 'base64'), keyId);
      key.catch(() => this.opened.delete(cacheKey));
      this.opened.set(cacheKey, key);
    }
    return key;
  }
}

/** `.ts` under tsx and vitest, `.js` once compiled. */
export const FAILURE_CONVERTER_PATH = fileURLToPath(
  new URL(`../shared/failure-converter${path.extname(fileURLToPath(import.meta.url))}`, import.meta.url),
);

/** The data converter every Client and Worker of this service uses. */
export function encryptedDataConverter(keys: KeyProvider): DataConverter {
  return { payloadCodecs: [new EncryptionCodec(keys)], failureConverterPath: FAILURE_CONVERTER_PATH };
}
