import { Readable, Transform, pipeline } from 'node:stream';
import type { Context } from 'hono';
import type { ReadEnv } from './app.js';

class OverBudget extends Error {}

/**
 * A git stream as the answer, at the reader's pace, cut off (the connection reset, never a short
 * answer that looks whole) past `maxBytes`. The read's slot is held until the stream ends; a
 * reader that goes away destroys it, and with it git.
 */
export function streamBody(c: Context<ReadEnv>, stream: Readable, maxBytes: number, headers: Record<string, string>) {
  c.set('streaming', true);
  const release = c.get('release');
  let sent = 0;
  const capped = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      sent += chunk.length;
      done(sent > maxBytes ? new OverBudget(`over ${maxBytes} bytes`) : null, chunk);
    },
  });
  pipeline(stream, capped, () => release());
  return c.body(Readable.toWeb(capped) as ReadableStream<Uint8Array>, 200, headers);
}
