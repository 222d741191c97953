import { charEnd, charStart } from './text.js';

export interface SearchMatch {
  path: string;
  line: number;
  /** 1-based byte offset of the line's first match. */
  column: number;
  /** At most PREVIEW_BYTES of the line: from its start, or from a little before a match further on (`…` marks a cut). */
  preview: string;
}

export const PREVIEW_BYTES = 200;
/** How much of the line a preview shows before a match that begins past half the preview. */
const PREVIEW_LEAD_BYTES = 40;
/** `<commit>:<path>`, the line and the column: a path is at most PATH_MAX, so a longer header is not git's. */
const MAX_HEADER_BYTES = 8192;

/**
 * Reads `git grep -n --column --null <commit>` output as it streams: `<commit>:<path>\0<line>\0
 * <column>\0<text>\n` per matching line. Only the preview's window of a line is kept, so a
 * minified file's megabyte line costs no memory; `onMatch` returning a reason stops git.
 */
export function grepMatches(commit: string, onMatch: (match: SearchMatch) => string | undefined) {
  const prefix = `${commit}:`;
  let header: Buffer[] = [];
  let headerBytes = 0;
  let fields: string[] = [];
  let textAt = 0;
  let from = 0;
  let window: Buffer[] = [];

  const startText = () => {
    const column = Number(fields[2]);
    from = column - 1 < PREVIEW_BYTES / 2 ? 0 : column - 1 - PREVIEW_LEAD_BYTES;
    textAt = 0;
    window = [];
  };
  const keep = (segment: Buffer) => {
    const start = Math.max(from - textAt, 0);
    const end = Math.min(from + PREVIEW_BYTES + 1 - textAt, segment.length);
    if (end > start) window.push(segment.subarray(start, end));
    textAt += segment.length;
  };
  const finish = (): string | undefined => {
    const [path = '', line = '0', column = '0'] = fields;
    fields = [];
    return onMatch({
      path: path.startsWith(prefix) ? path.slice(prefix.length) : path,
      line: Number(line),
      column: Number(column),
      preview: previewOf(Buffer.concat(window), from > 0),
    });
  };

  return (chunk: Buffer): string | undefined => {
    let at = 0;
    while (at < chunk.length) {
      if (fields.length < 3) {
        const nul = chunk.indexOf(0, at);
        const part = chunk.subarray(at, nul === -1 ? chunk.length : nul);
        header.push(part);
        headerBytes += part.length;
        if (headerBytes > MAX_HEADER_BYTES) return 'not grep output';
        if (nul === -1) break;
        fields.push(Buffer.concat(header).toString());
        header = [];
        headerBytes = 0;
        at = nul + 1;
        if (fields.length === 3) startText();
        continue;
      }
      const newline = chunk.indexOf(10, at);
      keep(chunk.subarray(at, newline === -1 ? chunk.length : newline));
      if (newline === -1) break;
      at = newline + 1;
      const reason = finish();
      if (reason) return reason;
    }
    return undefined;
  };
}

/** The window's text in whole characters, `…` where the line was cut, without a CRLF's `\r`. */
function previewOf(bytes: Buffer, cutBefore: boolean): string {
  const cutAfter = bytes.length > PREVIEW_BYTES;
  const start = cutBefore ? charStart(bytes, 0) : 0;
  const end = charEnd(bytes, Math.min(bytes.length, PREVIEW_BYTES));
  const text = bytes.subarray(start, end).toString().replace(/\r$/, '');
  return `${cutBefore ? '…' : ''}${text}${cutAfter ? '…' : ''}`;
}
