import { insertAudit } from './audit.js';
import type { Queryable, Sql } from './client.js';

/** The secrets a repository row keeps, each envelope-encrypted: their columns, and the audit action of a re-wrap. */
export const STORED_SECRETS = {
  token: { ciphertext: 'token_ciphertext', keyId: 'token_kid', rewrapped: 'token.rewrapped' },
  webhookSecret: {
    ciphertext: 'webhook_secret_ciphertext',
    keyId: 'webhook_secret_kid',
    rewrapped: 'webhook_secret.rewrapped',
  },
} as const;
export type StoredSecret = keyof typeof STORED_SECRETS;

export interface WrappedSecret {
  id: string;
  ciphertext: Buffer;
  keyId: string;
}

/** Rows whose `kind` of secret has its data key wrapped under another key than `currentKeyId`, a batch at a time. */
export async function findSecretsNotUnder(
  sql: Queryable,
  kind: StoredSecret,
  currentKeyId: string,
  limit: number,
  afterId?: string,
): Promise<WrappedSecret[]> {
  const column = STORED_SECRETS[kind];
  return sql<WrappedSecret[]>`
    select id, ${sql(column.ciphertext)} as ciphertext, ${sql(column.keyId)} as key_id from code_repos
    where ${sql(column.keyId)} <> ${currentKeyId} ${afterId ? sql`and id > ${afterId}` : sql``}
    order by id limit ${limit}`;
}

/**
 * Replaces a secret's ciphertext with its re-wrapped form, with an audit row, unless the row
 * changed meanwhile (a retry stored a new token, a disconnect erased it): then it is left for the next run.
 */
export async function replaceWrappedSecret(
  sql: Sql,
  kind: StoredSecret,
  before: WrappedSecret,
  after: { ciphertext: Buffer; keyId: string },
): Promise<boolean> {
  const column = STORED_SECRETS[kind];
  return sql.begin(async (tx) => {
    const updated = await tx`
      update code_repos set ${tx(column.ciphertext)} = ${after.ciphertext}, ${tx(column.keyId)} = ${after.keyId}, updated_at = now()
      where id = ${before.id} and ${tx(column.keyId)} = ${before.keyId} and ${tx(column.ciphertext)} = ${before.ciphertext}`;
    if (updated.count === 0) return false;
    await insertAudit(tx, {
      correlationId: 'rotate-keys',
      requestId: null,
      userId: 'system',
      repoId: before.id,
      action: column.rewrapped,
      fromState: null,
      toState: null,
      metadata: { from_key_id: before.keyId, to_key_id: after.keyId },
    });
    return true;
  });
}
