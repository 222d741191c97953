import { insertAudit } from './audit.js';
import type { Queryable, Sql } from './client.js';

export interface WrappedToken {
  id: string;
  tokenCiphertext: Buffer;
  tokenKid: string;
}

/** Rows whose token's data key is wrapped under another key than `currentKeyId`, a batch at a time. */
export async function findTokensNotUnder(sql: Queryable, currentKeyId: string, limit: number, afterId?: string): Promise<WrappedToken[]> {
  const rows = await sql<{ id: string; token_ciphertext: Buffer; token_kid: string }[]>`
    select id, token_ciphertext, token_kid from code_repos
    where token_kid <> ${currentKeyId} ${afterId ? sql`and id > ${afterId}` : sql``}
    order by id limit ${limit}`;
  return rows.map((r) => ({ id: r.id, tokenCiphertext: r.token_ciphertext, tokenKid: r.token_kid }));
}

/**
 * Replaces a token's ciphertext with its re-wrapped form, with an audit row, unless the row
 * changed meanwhile (a retry stored a new token): then it is left for the next run.
 */
export async function replaceWrappedToken(sql: Sql, before: WrappedToken, after: { tokenCiphertext: Buffer; tokenKid: string }): Promise<boolean> {
  return sql.begin(async (tx) => {
    const updated = await tx`
      update code_repos set token_ciphertext = ${after.tokenCiphertext}, token_kid = ${after.tokenKid}, updated_at = now()
      where id = ${before.id} and token_kid = ${before.tokenKid} and token_ciphertext = ${before.tokenCiphertext}`;
    if (updated.count === 0) return false;
    await insertAudit(tx, {
      correlationId: 'rotate-keys',
      requestId: null,
      userId: 'system',
      repoId: before.id,
      action: 'token.rewrapped',
      fromState: null,
      toState: null,
      metadata: { from_key_id: before.tokenKid, to_key_id: after.tokenKid },
    });
    return true;
  });
}
