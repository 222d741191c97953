import { SignJWT, errors, jwtVerify } from 'jose';

/** Who may read what, for one call of the API to a host's read service. */
export interface ReadGrant {
  /** The user the API authenticated. */
  userId: string;
  repoId: string;
}

const ISSUER = 'repo-connector-api';
/** Long enough for one call to reach the host, short enough that a copied token is soon worthless. */
export const READ_TOKEN_TTL_SECONDS = 30;
/** Tolerated difference between the API's clock and the host's. */
const CLOCK_TOLERANCE_SECONDS = 5;

const audienceOf = (hostTaskQueue: string) => `read-service:${hostTaskQueue}`;
const keyOf = (secret: string) => new TextEncoder().encode(secret);

/** A token for one host's read service, for one repository, signed with READ_SERVICE_SECRET. */
export async function signReadToken(secret: string, hostTaskQueue: string, grant: ReadGrant): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ repo: grant.repoId })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuer(ISSUER)
    .setAudience(audienceOf(hostTaskQueue))
    .setSubject(grant.userId)
    .setIssuedAt(now)
    .setExpirationTime(now + READ_TOKEN_TTL_SECONDS)
    .sign(keyOf(secret));
}

export class ReadTokenRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReadTokenRefused';
  }
}

/** The grant a token carries, when it was signed for this host with the secret and has not expired. */
export async function verifyReadToken(secret: string, hostTaskQueue: string, token: string): Promise<ReadGrant> {
  try {
    const { payload } = await jwtVerify(token, keyOf(secret), {
      algorithms: ['HS256'],
      issuer: ISSUER,
      audience: audienceOf(hostTaskQueue),
      requiredClaims: ['exp', 'iat', 'sub', 'repo'],
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
      maxTokenAge: READ_TOKEN_TTL_SECONDS + CLOCK_TOLERANCE_SECONDS,
    });
    if (typeof payload.repo !== 'string' || !payload.sub) throw new ReadTokenRefused('The token names no repository');
    return { userId: payload.sub, repoId: payload.repo };
  } catch (err) {
    if (err instanceof ReadTokenRefused) throw err;
    if (err instanceof errors.JOSEError)
      throw new ReadTokenRefused(err instanceof errors.JWTExpired ? 'The token has expired' : 'Not a token of the API');
    throw err;
  }
}
