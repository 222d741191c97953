import type { MiddlewareHandler } from 'hono';
import { verify, verifyWithJwks } from 'hono/jwt';
import type { JWTPayload } from 'hono/utils/jwt/types';
import type { ApiEnv } from './context.js';
import { ApiError } from './errors.js';

export interface AuthSettings {
  /** HS256 secret. */
  jwtSecret?: string;
  /** JWKS endpoint for RS256/ES256 tokens. */
  jwksUrl?: string;
}


const unauthorized = (message: string) => new ApiError(401, 'unauthorized', message, {}, { 'WWW-Authenticate': 'Bearer' });

async function verifyToken(token: string, settings: AuthSettings): Promise<JWTPayload> {
  const alg = JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString() || '{}').alg;
  if (alg === 'HS256' && settings.jwtSecret) return verify(token, settings.jwtSecret, 'HS256');
  if (settings.jwksUrl && alg !== 'HS256') {
    return verifyWithJwks(token, { jwks_uri: settings.jwksUrl, allowedAlgorithms: ['RS256', 'ES256'] });
  }
  throw new Error(`unsupported algorithm ${alg}`);
}

/**
 * `Authorization: Bearer <JWT>` (hono's JWT verification): HS256 with JWT_SECRET, or RS256/ES256
 * from JWKS_URL. `exp` and `sub` are required; `sub` becomes the user id the audit trail records.
 */
export function requireUser(settings: AuthSettings): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const header = c.req.header('authorization');
    const match = header && /^Bearer\s+([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)$/.exec(header);
    if (!match) throw unauthorized('Missing or malformed bearer token (JWT) in the Authorization header');
    let payload: JWTPayload;
    try {
      payload = await verifyToken(match[1]!, settings);
    } catch {
      throw unauthorized('The bearer token (JWT) is invalid or expired');
    }
    if (typeof payload.exp !== 'number') throw unauthorized('The bearer token (JWT) has no expiry (exp)');
    if (typeof payload.sub !== 'string' || payload.sub.length === 0 || payload.sub.length > 200) {
      throw unauthorized('The bearer token (JWT) names no subject (sub)');
    }
    c.set('userId', payload.sub);
    await next();
  };
}
