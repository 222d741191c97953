import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { deletesRef, pushEventOf, pushesRef } from '../../src/api/webhook-push.js';
import { SIGNATURE_HEADERS, signedDelivery } from '../../src/api/webhook-signature.js';

const SECRET = 'whsec_unit-test-secret-as-long-as-ours-0123456789';
const BODY = Buffer.from('{"ref":"refs/heads/main","after":"0123456789abcdef0123456789abcdef01234567"}');
const hex = (secret: string, body: Uint8Array) => createHmac('sha256', secret).update(body).digest('hex');

/** Headers looked up as HTTP does: names match whatever their case. */
const headers = (h: Record<string, string>) => (name: string) =>
  Object.entries(h).find(([k]) => k.toLowerCase() === name.toLowerCase())?.[1];

describe('signedDelivery', () => {
  it('never verifies against a secret too short to be one of ours (an empty one would match an empty token)', () => {
    expect(signedDelivery(headers({ 'X-Gitlab-Token': '', 'X-Gitlab-Event': 'Push Hook' }))!.verify('', BODY)).toBe(
      false,
    );
    expect(
      signedDelivery(headers({ 'X-Hub-Signature-256': `sha256=${hex('short', BODY)}` }))!.verify('short', BODY),
    ).toBe(false);
    expect(signedDelivery(headers({ 'X-Gitlab-Token': SECRET }))!.verify(SECRET, BODY)).toBe(true);
  });

  it('reads GitHub: sha256=<hex HMAC of the raw body>, its event and delivery', () => {
    const d = signedDelivery(
      headers({
        'x-hub-signature-256': `sha256=${hex(SECRET, BODY)}`,
        'x-github-event': 'push',
        'x-github-delivery': 'd-1',
      }),
    )!;
    expect(d).toMatchObject({ provider: 'github', isPush: true, event: 'push', deliveryId: 'd-1' });
    expect(d.verify(SECRET, BODY)).toBe(true);
    expect(d.verify(`${SECRET}x`, BODY)).toBe(false);
    expect(d.verify(SECRET, Buffer.concat([BODY, Buffer.from(' ')]))).toBe(false);
  });

  it("accepts the hex in either case, and refuses GitHub's signature without its prefix or of the wrong length", () => {
    const sig = hex(SECRET, BODY);
    const verify = (value: string) => signedDelivery(headers({ 'X-Hub-Signature-256': value }))!.verify(SECRET, BODY);
    expect(verify(`sha256=${sig.toUpperCase()}`)).toBe(true);
    expect(verify(sig)).toBe(false);
    expect(verify(`sha1=${sig}`)).toBe(false);
    expect(verify(`sha256=${sig.slice(0, 62)}`)).toBe(false);
    expect(verify(`sha256=${sig}00`)).toBe(false);
    expect(verify('sha256=')).toBe(false);
    expect(verify(`sha256=${'z'.repeat(64)}`)).toBe(false);
  });

  it('reads GitLab: the secret itself, Push Hook and Tag Push Hook, Idempotency-Key before X-Gitlab-Event-UUID', () => {
    const d = signedDelivery(
      headers({
        'X-Gitlab-Token': SECRET,
        'X-Gitlab-Event': 'Tag Push Hook',
        'Idempotency-Key': 'key-1',
        'X-Gitlab-Event-UUID': 'uuid-1',
      }),
    )!;
    expect(d).toMatchObject({ provider: 'gitlab', isPush: true, deliveryId: 'key-1' });
    expect(d.verify(SECRET, BODY)).toBe(true);
    expect(d.verify(SECRET.slice(0, -1), BODY)).toBe(false);
    expect(
      signedDelivery(
        headers({ 'X-Gitlab-Token': SECRET, 'X-Gitlab-Event': 'Push Hook', 'X-Gitlab-Event-UUID': 'uuid-1' }),
      ),
    ).toMatchObject({ isPush: true, deliveryId: 'uuid-1' });
    expect(signedDelivery(headers({ 'X-Gitlab-Token': SECRET, 'X-Gitlab-Event': 'Merge Request Hook' }))).toMatchObject(
      { isPush: false, deliveryId: undefined },
    );
    // A token of another length is refused, not thrown on (timingSafeEqual needs equal lengths: both are hashed first).
    expect(signedDelivery(headers({ 'X-Gitlab-Token': 'short' }))!.verify(SECRET, BODY)).toBe(false);
  });

  it("reads Gitea by its own headers, though it sends GitHub's too", () => {
    const d = signedDelivery(
      headers({
        'X-Gitea-Signature': hex(SECRET, BODY),
        'X-Gitea-Event': 'push',
        'X-Gitea-Delivery': 'gitea-1',
        'X-Hub-Signature-256': 'sha256=whatever',
        'X-GitHub-Event': 'ping',
        'X-GitHub-Delivery': 'github-1',
      }),
    )!;
    expect(d).toMatchObject({
      provider: 'gitea',
      isPush: true,
      deliveryId: 'gitea-1',
      deliveryHeader: 'X-Gitea-Delivery',
    });
    expect(d.verify(SECRET, BODY)).toBe(true);
    expect(d.verify(SECRET, Buffer.from('{}'))).toBe(false);
  });

  it('is undefined without a signature header, and names the headers it looks for', () => {
    expect(signedDelivery(headers({ 'X-GitHub-Event': 'push', 'X-GitHub-Delivery': 'd' }))).toBeUndefined();
    expect(SIGNATURE_HEADERS).toEqual(['X-Gitea-Signature', 'X-Hub-Signature-256', 'X-Gitlab-Token']);
  });

  it('reports other events as not a push, and a missing delivery as undefined with the header to name', () => {
    const ping = signedDelivery(headers({ 'X-Hub-Signature-256': 'sha256=00', 'X-GitHub-Event': 'ping' }))!;
    expect(ping).toMatchObject({
      isPush: false,
      event: 'ping',
      deliveryId: undefined,
      deliveryHeader: 'X-GitHub-Delivery',
    });
    const gitlab = signedDelivery(headers({ 'X-Gitlab-Token': SECRET }))!;
    expect(gitlab).toMatchObject({
      isPush: false,
      event: undefined,
      deliveryHeader: 'Idempotency-Key or X-Gitlab-Event-UUID',
    });
  });
});

describe('push events', () => {
  const push = (ref: string, after = 'a'.repeat(40), extra: Record<string, unknown> = {}) =>
    pushEventOf({ ref, after, ...extra });

  it("match the connection's ref as a branch or a tag, exactly", () => {
    expect(pushesRef(push('refs/heads/main'), 'main')).toBe(true);
    expect(pushesRef(push('refs/tags/v1.0'), 'v1.0')).toBe(true);
    expect(pushesRef(push('refs/heads/main-2'), 'main')).toBe(false);
    expect(pushesRef(push('refs/heads/feature/main'), 'main')).toBe(false);
    expect(pushesRef(push('main'), 'main')).toBe(false);
    expect(pushesRef(pushEventOf({}), 'main')).toBe(false);
  });

  it("follow the sender's default branch for a row without a ref (GitHub and Gitea: repository; GitLab: project)", () => {
    expect(pushesRef(push('refs/heads/trunk', undefined, { repository: { default_branch: 'trunk' } }), null)).toBe(
      true,
    );
    expect(pushesRef(push('refs/heads/trunk', undefined, { project: { default_branch: 'trunk' } }), null)).toBe(true);
    expect(pushesRef(push('refs/heads/trunk'), null)).toBe(false);
  });

  it('tell a deletion by its all-zero new commit (SHA-1 or SHA-256)', () => {
    expect(deletesRef(push('refs/heads/main', '0'.repeat(40)))).toBe(true);
    expect(deletesRef(push('refs/heads/main', '0'.repeat(64)))).toBe(true);
    expect(deletesRef(push('refs/heads/main'))).toBe(false);
    expect(deletesRef(pushEventOf({ ref: 'refs/heads/main' }))).toBe(false);
  });

  it('read nothing from a payload that is not an object', () => {
    for (const payload of [null, 42, 'push', []])
      expect(pushEventOf(payload)).toEqual({ ref: undefined, after: undefined, defaultBranch: undefined });
  });
});
