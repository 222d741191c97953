import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export type WebhookProvider = 'github' | 'gitlab' | 'gitea';

/** How each Git host signs a push webhook and names its event and delivery (header names match case-insensitively). */
interface Sender {
  provider: WebhookProvider;
  signatureHeader: string;
  /** `hmac`: the hex HMAC-SHA256 of the body under the secret, after `prefix`; `token`: the secret itself. */
  scheme: { kind: 'hmac'; prefix: string } | { kind: 'token' };
  eventHeader: string;
  pushEvents: readonly string[];
  /** Where the delivery id is, first found wins: the id a redelivery of the same event carries again. */
  deliveryHeaders: readonly string[];
}

/**
 * Gitea sends GitHub's headers too (X-Hub-Signature-256, X-GitHub-Event): its own signature header
 * is looked for first, so its own event and delivery headers are the ones read.
 */
const SENDERS: readonly Sender[] = [
  {
    provider: 'gitea',
    signatureHeader: 'X-Gitea-Signature',
    scheme: { kind: 'hmac', prefix: '' },
    eventHeader: 'X-Gitea-Event',
    pushEvents: ['push'],
    deliveryHeaders: ['X-Gitea-Delivery'],
  },
  {
    provider: 'github',
    signatureHeader: 'X-Hub-Signature-256',
    scheme: { kind: 'hmac', prefix: 'sha256=' },
    eventHeader: 'X-GitHub-Event',
    pushEvents: ['push'],
    deliveryHeaders: ['X-GitHub-Delivery'],
  },
  {
    provider: 'gitlab',
    signatureHeader: 'X-Gitlab-Token',
    scheme: { kind: 'token' },
    eventHeader: 'X-Gitlab-Event',
    pushEvents: ['Push Hook', 'Tag Push Hook'],
    deliveryHeaders: ['Idempotency-Key', 'X-Gitlab-Event-UUID'],
  },
];

/** Every header a webhook may be signed with, as the 401 for an unsigned request names them. */
export const SIGNATURE_HEADERS = SENDERS.map((s) => s.signatureHeader);

/** A delivery's own description of itself, read from its headers; nothing here is trusted before `verify`. */
export interface SignedDelivery {
  provider: WebhookProvider;
  /** True when the event is a push (a branch's or a tag's). */
  isPush: boolean;
  event: string | undefined;
  deliveryId: string | undefined;
  /** The header the delivery id is expected in, to name in a 400 when it is missing. */
  deliveryHeader: string;
  /** Whether the body (the exact bytes received) was signed with `secret`; constant-time. */
  verify(secret: string, body: Uint8Array): boolean;
}

const HEX_SHA256 = /^[0-9a-f]{64}$/i;
/** Ours are `whsec_` and 43 characters: anything much shorter is no secret to check against (an empty one would match an empty token). */
const MIN_SECRET_LENGTH = 32;
/** Hashed first, so the comparison is of equal lengths whatever was sent, and takes the same time. */
const digest = (value: string | Uint8Array) => createHash('sha256').update(value).digest();

function verifier(scheme: Sender['scheme'], signature: string) {
  return (secret: string, body: Uint8Array): boolean => {
    if (secret.length < MIN_SECRET_LENGTH) return false;
    if (scheme.kind === 'token') return timingSafeEqual(digest(signature), digest(secret));
    const hex = signature.startsWith(scheme.prefix) ? signature.slice(scheme.prefix.length) : '';
    if (!HEX_SHA256.test(hex)) return false;
    return timingSafeEqual(Buffer.from(hex, 'hex'), createHmac('sha256', secret).update(body).digest());
  };
}

/** The delivery as its headers describe it, or undefined when it carries none of the signature headers. */
export function signedDelivery(header: (name: string) => string | undefined): SignedDelivery | undefined {
  for (const sender of SENDERS) {
    const signature = header(sender.signatureHeader);
    if (signature === undefined) continue;
    const event = header(sender.eventHeader);
    const deliveryId = sender.deliveryHeaders.map((name) => header(name)).find((v) => v !== undefined && v !== '');
    return {
      provider: sender.provider,
      isPush: event !== undefined && sender.pushEvents.includes(event),
      event,
      deliveryId,
      deliveryHeader: sender.deliveryHeaders.join(' or '),
      verify: verifier(sender.scheme, signature.trim()),
    };
  }
  return undefined;
}
