import { SignJWT } from 'jose';

export interface DevTokenClaims {
  sub: string;
  /** Seconds from now until `exp`; negative for a token that has already expired. */
  ttlSeconds: number;
  /** The `scope` claim: space-separated scopes, e.g. the codec's operator scope. */
  scope?: string;
}

/** An HS256 token the API accepts when `secret` is its JWT_SECRET: what `npm run token` prints. */
export async function signDevToken(secret: string, claims: DevTokenClaims): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT(claims.scope ? { scope: claims.scope } : {})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(claims.sub)
    .setIssuedAt(now)
    .setExpirationTime(now + claims.ttlSeconds);
  return jwt.sign(new TextEncoder().encode(secret));
}
