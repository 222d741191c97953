import type { MiddlewareHandler } from 'hono';
import {
  createRemoteJWKSet,
  decodeProtectedHeader,
  errors,
  jwtVerify,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import type { ApiEnv } from './context.js';
import { ApiError } from './errors.js';

export interface AuthSettings {
  /** HS256 secret. */
  jwtSecret?: string;
  /** JWKS endpoint for RS256/ES256 tokens. */
  jwksUrl?: string;
  /** `iss` every key-set token must carry, when set. */
  issuer?: string;
  /** `aud` every key-set token must include, when set. */
  audience?: string;
  /**
   * Least time between two fetches of the key set when a token names a key it lacks (jose's
   * cooldown, default 30 s): a rotated-in key is picked up, a stream of made-up key ids is not a
   * stream of fetches. Not a setting: only tests shorten it.
   */
  jwksCooldownMs?: number;
}

/** The verified claims of a bearer token; throws when it is not one this API accepts. */
export type VerifyToken = (token: string) => Promise<JWTPayload>;

/** The key set could not be had (down, slow, not a key set): not the caller's fault. */
class KeySetUnavailable extends Error {}

const unauthorized = (message: string) =>
  new ApiError(401, 'unauthorized', message, {}, { 'WWW-Authenticate': 'Bearer' });

/**
 * Both kinds of token verified by jose: the algorithm in the header picks the check, HS256 against
 * the secret, RS256/ES256 against the key set (with JWT_ISSUER and JWT_AUDIENCE), and each check
 * allows its own algorithms only (so never `none`, no HS256 checked against a public key, no RS256
 * against the secret). The key set is fetched once and cached (10 minutes), refetched early only
 * for an unknown key id, and then at most once per cooldown.
 */
export function createTokenVerifier(settings: AuthSettings): VerifyToken {
  const secret = settings.jwtSecret ? new TextEncoder().encode(settings.jwtSecret) : undefined;
  const jwks = settings.jwksUrl
    ? createRemoteJWKSet(new URL(settings.jwksUrl), { cooldownDuration: settings.jwksCooldownMs })
    : undefined;
  const fromKeySet: JWTVerifyGetKey = async (header, token) => {
    try {
      return await jwks!(header, token);
    } catch (err) {
      if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) throw err;
      throw new KeySetUnavailable((err as Error).message);
    }
  };
  const required = { requiredClaims: ['exp', 'sub'] };
  return async (token) => {
    // The header only picks which check applies; each check allows its own algorithms alone.
    const { alg } = decodeProtectedHeader(token);
    if (alg === 'HS256' && secret)
      return (await jwtVerify(token, secret, { ...required, algorithms: ['HS256'] })).payload;
    if (jwks && alg !== 'HS256') {
      // iss and aud name the identity provider: its tokens carry them. The secret's own tokens are vouched for by the secret.
      return (
        await jwtVerify(token, fromKeySet, {
          ...required,
          algorithms: ['RS256', 'ES256'],
          issuer: settings.issuer,
          audience: settings.audience,
        })
      ).payload;
    }
    throw new errors.JOSEAlgNotAllowed(`"alg" (Algorithm) Header Parameter value not allowed`);
  };
}

/** Whether the token's `scope` claim (space-separated, RFC 9068; a list is accepted too) grants `scope`. */
export function hasScope(payload: JWTPayload, scope: string): boolean {
  const granted =
    typeof payload.scope === 'string' ? payload.scope.split(' ') : Array.isArray(payload.scope) ? payload.scope : [];
  return granted.includes(scope);
}

/**
 * `Authorization: Bearer <JWT>`, verified by `verify`. `exp` and `sub` are required; `sub` becomes
 * the user id the audit trail records. With `scope`, a valid token without that scope is 403.
 */
export function requireUser(verify: VerifyToken, options: { scope?: string } = {}): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const header = c.req.header('authorization');
    const match = header && /^Bearer\s+([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)$/.exec(header);
    if (!match) throw unauthorized('Missing or malformed bearer token (JWT) in the Authorization header');
    let payload: JWTPayload;
    try {
      payload = await verify(match[1]!);
    } catch (err) {
      if (err instanceof KeySetUnavailable) {
        c.get('log').warn({ err: { message: err.message } }, 'JWKS_URL: key set unavailable');
        throw new ApiError(
          502,
          'upstream_unavailable',
          'The key set that verifies tokens (JWKS_URL) is unavailable; try again shortly',
        );
      }
      if (err instanceof errors.JWTExpired) throw unauthorized('The bearer token (JWT) has expired');
      if (err instanceof errors.JWTClaimValidationFailed) {
        throw unauthorized(
          err.reason === 'missing'
            ? `The bearer token (JWT) has no ${err.claim} claim`
            : `The bearer token (JWT) ${err.claim} claim is not accepted here`,
        );
      }
      throw unauthorized('The bearer token (JWT) is invalid');
    }
    if (typeof payload.sub !== 'string' || payload.sub.length === 0 || payload.sub.length > 200) {
      throw unauthorized('The bearer token (JWT) names no subject (sub)');
    }
    if (options.scope && !hasScope(payload, options.scope)) {
      throw new ApiError(
        403,
        'forbidden',
        `This endpoint needs the operator permission: scope "${options.scope}" in the bearer token (JWT)`,
        { required_scope: options.scope },
      );
    }
    c.set('userId', payload.sub);
    await next();
  };
}
