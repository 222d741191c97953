/** One block of a text/event-stream body: an event (with its fields) or, when it has no data, only comments. */
export interface SseBlock {
  event?: string;
  id?: string;
  data?: string;
  comments: string[];
}

function parseBlock(block: string): SseBlock {
  const parsed: SseBlock = { comments: [] };
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) {
      parsed.comments.push(line.slice(1).trim());
      continue;
    }
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'data') data.push(value);
    else if (field === 'event') parsed.event = value;
    else if (field === 'id') parsed.id = value;
  }
  if (data.length) parsed.data = data.join('\n');
  return parsed;
}

/** The blocks of an SSE body as they arrive, until the server closes it (or the reader is cancelled). */
export async function* sseBlocks(body: ReadableStream<Uint8Array>): AsyncGenerator<SseBlock> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true }).replace(/\r\n?/g, '\n');
    let end: number;
    while ((end = buffer.indexOf('\n\n')) !== -1) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      if (block) yield parseBlock(block);
    }
  }
}
