import { Hono } from 'hono';
import { sealedFromBytes } from '../../crypto/sealed-secret.js';
import { openWebhookSecret } from '../../crypto/webhook-secret.js';
import { findRepo, type CodeRepo } from '../../db/repos.js';
import { takeToken } from '../../db/rate-limit-buckets.js';
import {
  claimDelivery,
  claimPushAfter,
  deliveryKnown,
  forgetDelivery,
  markDeliverySignalled,
  releasePushAfter,
} from '../../db/webhook-deliveries.js';
import { syncSignal } from '../../shared/connect-repository.js';
import type { ApiEnv } from '../context.js';
import type { ApiDeps } from '../deps.js';
import { ApiError } from '../errors.js';
import { openedSecrets, type SecretKey } from '../opened-secrets.js';
import { deferredSync } from '../deferred-sync.js';
import { secondsToNextToken } from '../rate-limit.js';
import { repoParamsSchema } from '../schemas.js';
import { validate } from '../validation.js';
import { COMMIT_ID } from '../../shared/ref-name.js';
import { deletesRef, pushEventOf, pushesRef } from '../webhook-push.js';
import { SIGNATURE_HEADERS, signedDelivery } from '../webhook-signature.js';
import { ended, toWorkflow } from '../services/repositories.js';

/** GitHub caps a webhook's payload at 25 MB, but a push of a few commits is a few KiB; what is over this is refused. */
export const MAX_WEBHOOK_BODY_BYTES = 1024 * 1024;
/**
 * Key-service calls to open webhook secrets, per API process: per repository, per project (one
 * tenant's many repositories), and for the process. Only misses cost one (OPENED_SECRET_TTL_MS), so
 * neither a real sender nor a forger meets them in practice; they bound what a stream of misses costs.
 */
export const WEBHOOK_KEY_BUDGETS = {
  repository: { burst: 30, perMinute: 60 },
  project: { burst: 100, perMinute: 300 },
  process: { burst: 300, perMinute: 1200 },
};
/**
 * How long an opened webhook secret is kept in this process's memory. Anyone who knows a repository's
 * id may send a delivery: with the secret open, a flood of forged ones costs an HMAC each and no
 * key-service call, and a real delivery amid them is verified and acted on like any other.
 */
const OPENED_SECRET_TTL_MS = 10 * 60 * 1000;
/** Opened secrets kept at most, in each tier (see openedSecrets). */
const OPENED_SECRETS_MAX = 1000;
/** A sync is asked for while the clone is pending or running too: the workflow runs it once the clone is there. */
const SYNCABLE = new Set(['PENDING', 'CLONING', 'COMPLETED']);
/** Bounds the signal when Temporal does not answer: the sender is told to redeliver, not left waiting. */
const SIGNAL_DEADLINE_MS = 10_000;
/** A delivery claimed but not signalled for this long was left by an attempt that died: its redelivery takes it over. */
const CLAIM_STALE_SECONDS = 60;
const DELIVERY_ID = /^[\x21-\x7e]{1,200}$/;
/** The reason a push the repository has, or one already accepted, is ignored with. */
const UP_TO_DATE = 'up_to_date';

/** A redelivery of a delivery acted on, or under way. */
class Duplicate extends Error {}

const invalidSignature = (message: string) => new ApiError(401, 'invalid_signature', message);

/**
 * `POST /api/v1/hooks/git/:repo_id`: push webhooks from GitHub, GitLab and Gitea, authenticated by
 * the repository's webhook secret alone (no bearer token: senders cannot carry one). A verified
 * push to the connection's ref signals a sync, once per delivery id; pushes over the repository's
 * rate join its one deferred sync (Git hosts do not redeliver a 429), which fetches the ref's tip.
 */
export function hookRoutes(deps: ApiDeps) {
  const { sql, temporal, keys } = deps;
  const secrets = openedSecrets({ ttlMs: OPENED_SECRET_TTL_MS, max: OPENED_SECRETS_MAX, budgets: WEBHOOK_KEY_BUDGETS });
  const secretKeyOf = (repo: CodeRepo): SecretKey => ({
    repoId: repo.id,
    projectId: repo.projectId,
    from: `${repo.webhookSecretKid}:${repo.webhookSecretCiphertext!.toString('base64')}`,
  });
  const { burst, perMinute } = deps.settings.webhookSyncRateLimit;
  const syncBucket = { burst, perSecond: perMinute / 60 };
  const { taskQueue } = deps.settings;

  return new Hono<ApiEnv>().post('/git/:repo_id', validate('param', repoParamsSchema), async (c) => {
    const repo = await findRepo(sql, c.req.valid('param').repo_id);
    if (!repo) throw new ApiError(404, 'not_found', 'Repository not found');
    if (repo.disconnectedAt)
      throw new ApiError(
        409,
        'disconnected',
        'The repository was disconnected (its webhook secret with it); connect it again',
      );
    if (!repo.webhookSecretCiphertext || !repo.webhookSecretKid) {
      throw new ApiError(
        409,
        'invalid_state',
        'This repository was connected before webhooks existed and has no webhook secret; connect it again to get one',
      );
    }
    const delivery = signedDelivery((name) => c.req.header(name));
    if (!delivery) throw invalidSignature(`The webhook is not signed: expected one of ${SIGNATURE_HEADERS.join(', ')}`);
    const body = new Uint8Array(await c.req.arrayBuffer());
    const secretKey = secretKeyOf(repo);
    const secret = await secrets.secretOf(secretKey, () =>
      openWebhookSecret(keys, sealedFromBytes(repo.webhookSecretCiphertext!, repo.webhookSecretKid!), repo.id),
    );
    if (!delivery.verify(secret, body)) {
      c.get('log').warn({ repoId: repo.id, provider: delivery.provider }, 'webhook signature rejected');
      throw invalidSignature("The webhook's signature does not match this repository's webhook secret");
    }
    secrets.verifiedWith(secretKey);
    const deliveryId = delivery.deliveryId;
    if (deliveryId === undefined)
      throw new ApiError(
        400,
        'bad_request',
        `The webhook names no delivery: expected the ${delivery.deliveryHeader} header`,
      );
    if (!DELIVERY_ID.test(deliveryId))
      throw new ApiError(
        400,
        'bad_request',
        `The ${delivery.deliveryHeader} header must be 1-200 printable characters`,
      );

    const log = c.get('log').child({ repoId: repo.id, provider: delivery.provider, deliveryId });
    const answer = (status: 'accepted' | 'duplicate' | 'ignored', reason?: string) => {
      log.info({ event: delivery.event ?? null, outcome: status }, 'webhook delivery');
      return c.json({ status, repo_id: repo.id, delivery_id: deliveryId, ...(reason ? { reason } : {}) }, 202);
    };
    if (!delivery.isPush) return answer('ignored', `Not a push event (${delivery.event ?? 'no event header'})`);
    let payload: unknown;
    try {
      payload = JSON.parse(new TextDecoder().decode(body));
    } catch {
      throw new ApiError(
        400,
        'bad_request',
        "Malformed webhook body: expected JSON (set the webhook's content type to application/json)",
      );
    }
    const push = pushEventOf(payload);
    if (!pushesRef(push, repo.ref))
      return answer('ignored', `Not a push to the connected ref (${repo.ref ?? 'the default branch'})`);
    if (deletesRef(push)) return answer('ignored', 'The push deleted the ref');
    if (!SYNCABLE.has(repo.cloneStatus))
      return answer('ignored', `The repository is ${repo.cloneStatus}; only a PENDING, CLONING or COMPLETED one syncs`);
    // Paused for the user (the workflow ignores pushes too): a push cannot mend a refused token.
    if (repo.attentionRequiredAt)
      return answer(
        'ignored',
        `Syncs are paused until the repository's user answers (${repo.errorCode ?? 'sync failures'}): retry with a new access token`,
      );

    const after = push.after;
    if (after !== undefined && !COMMIT_ID.test(after))
      throw new ApiError(400, 'bad_request', 'The push\'s "after" must be a commit id (40 or 64 hexadecimal digits)');
    // What the API alone can tell: the row's commit, or the push last accepted (any delivery id); any other commit is fetched (an older one may be a force-rewind).
    if (after !== undefined && after === repo.headCommit) return answer('ignored', UP_TO_DATE);

    const pushClaim =
      after === undefined ? { claimed: true, previous: null } : await claimPushAfter(sql, repo.id, after);
    if (!pushClaim.claimed)
      return (await deliveryKnown(sql, repo.id, deliveryId)) ? answer('duplicate') : answer('ignored', UP_TO_DATE);
    /** The push's sync signalled once per delivery id, or (over the repository's rate) joined to its one deferred sync. */
    const acceptedOnce = async (): Promise<'signalled' | 'coalesced'> => {
      // Shared by every API instance; PostgreSQL away, let through as the users' limit is (the claim below needs it anyway).
      const taken = await takeToken(sql, `webhook:${repo.id}`, syncBucket).catch((err: unknown) => {
        log.warn(
          { err: { message: (err as Error).message } },
          'webhook rate limit: PostgreSQL unavailable, delivery let through',
        );
        return undefined;
      });
      const coalesced = taken !== undefined && !taken.allowed;
      // Claimed before the signal, marked signalled after it: a claim whose attempt died goes stale, and a redelivery takes it over.
      if (!(await claimDelivery(sql, repo.id, deliveryId, CLAIM_STALE_SECONDS))) throw new Duplicate();
      let signalled: boolean;
      try {
        signalled = await temporal.connection.withDeadline(Date.now() + SIGNAL_DEADLINE_MS, () =>
          coalesced
            ? deferredSync(temporal, taskQueue, repo, secondsToNextToken(taken.tokens, syncBucket.perSecond) * 1000)
            : toWorkflow(temporal, repo, (h) =>
                h.signal(syncSignal, { trigger: 'webhook', deliveryId, ...(after === undefined ? {} : { after }) }),
              ),
        );
      } catch (err) {
        // Not acted on: forgotten, so the sender's redelivery is acted on instead of answered as a duplicate.
        await forgetDelivery(sql, repo.id, deliveryId);
        log.warn({ err: { message: (err as Error).message } }, 'webhook: the workflow could not be signalled');
        throw new ApiError(
          503,
          'upstream_unavailable',
          'The workflow service is unavailable; the push was not acted on: redeliver it shortly',
          {},
          { 'Retry-After': '30' },
        );
      }
      if (!signalled) {
        await forgetDelivery(sql, repo.id, deliveryId);
        throw ended();
      }
      // Unmarked (the database gone this instant), the claim goes stale and a redelivery signals again: the workflow
      // knows the delivery id and syncs once (a coalesced one joins the deferred sync again).
      await markDeliverySignalled(sql, repo.id, deliveryId).catch((err: unknown) =>
        log.warn({ err: { message: (err as Error).message } }, 'webhook delivery not marked signalled'),
      );
      return coalesced ? 'coalesced' : 'signalled';
    };
    let accepted = false;
    try {
      const outcome = await acceptedOnce();
      accepted = true;
      return outcome === 'coalesced' ? answer('accepted', 'coalesced') : answer('accepted');
    } catch (err) {
      if (err instanceof Duplicate) return answer('duplicate');
      throw err;
    } finally {
      // Not acted on: the push is given back, so its redelivery (or a replay) is acted on instead.
      if (!accepted && after !== undefined) {
        await releasePushAfter(sql, repo.id, after, pushClaim.previous).catch((err: unknown) =>
          log.warn({ err: { message: (err as Error).message } }, 'webhook push not given back'),
        );
      }
    }
  });
}
