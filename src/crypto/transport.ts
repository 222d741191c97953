import { transportContext, type SealedSecret } from '../shared/connect-repository.js';
import type { KeyProvider } from './envelope.js';
import { openSecret, sealSecret } from './sealed-secret.js';

/**
 * Which secret a sealed value is: each is bound to its own context, so one can never be opened as the
 * other (the webhook secret is shown to the caller; the access token never is).
 */
export type SealedKind = 'access-token' | 'webhook-secret';

/** The token keeps the context it had before webhook secrets existed: runs in flight carry tokens sealed so. */
const contextOf = (requestId: string, kind: SealedKind) =>
  kind === 'access-token' ? transportContext(requestId) : `${transportContext(requestId)}:webhook-secret`;

/** Seals a secret for its trip through Temporal, bound to the request that carries it and to its kind. */
export const sealForTransport = (
  keys: KeyProvider,
  secret: string,
  requestId: string,
  kind: SealedKind,
): Promise<SealedSecret> => sealSecret(keys, secret, contextOf(requestId, kind));

/** Opens what sealForTransport sealed for the same request and kind. */
export const openSealed = (
  keys: KeyProvider,
  sealed: SealedSecret,
  requestId: string,
  kind: SealedKind,
): Promise<string> => openSecret(keys, sealed, contextOf(requestId, kind));
