import { ApiError } from './errors.js';

/** Opaque cursors: base64url of the last item's id (the database compares its full sort key). */
export const encodeCursor = (last: { id: string }): string => Buffer.from(`repo:${last.id}`).toString('base64url');

export function decodeCursor(cursor: string): string {
  const match = /^repo:([0-9a-f-]{36})$/i.exec(Buffer.from(cursor, 'base64url').toString());
  if (!match) {
    throw new ApiError(422, 'validation_error', 'cursor: not a cursor this API issued', {
      issues: [{ path: 'cursor', message: 'not a cursor this API issued' }],
    });
  }
  return match[1]!;
}
