/**
 * Opaque cursors: the last item's id as its 16 bytes in base64url (the database compares its full
 * sort key). Every string of this pattern decodes to exactly 16 bytes, so the pattern the OpenAPI
 * document gives is the whole rule: a well-formed cursor naming no repository of the project is
 * simply a page with nothing after it.
 */
export const CURSOR_PATTERN = /^[A-Za-z0-9_-]{21}[AQgw]$/;

export const encodeCursor = (last: { id: string }): string =>
  Buffer.from(last.id.replaceAll('-', ''), 'hex').toString('base64url');

/** The id a cursor of CURSOR_PATTERN (checked by the query's schema) carries. */
export function decodeCursor(cursor: string): string {
  const hex = Buffer.from(cursor, 'base64url').toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
