/** How much of git's stderr a log line carries: the end, where git says why it stopped. */
const TAIL_CHARS = 2048;

const SECRETS: Array<[RegExp, string]> = [
  // Header lines, should a trace or a server echo one: the value is the secret.
  [/\b((?:proxy-)?authorization|cookie|set-cookie)\s*:[^\n]*/gi, '$1: ***'],
  [/\b(Basic|Bearer|token)\s+[A-Za-z0-9+/=._~-]{8,}/g, '$1 ***'],
  [/(\b[a-z][a-z0-9+.-]*:\/\/)[^/@\s'"]+@/gi, '$1***@'],
  [/([?&][^=&#\s'"]+=)[^&#\s'"]*/g, '$1***'],
];

/**
 * The last 2 KB of git's stderr, fit for a log line: each progress line collapsed to its final
 * state (git redraws them with `\r`), credentials removed. The logger masks tokens too; this
 * does not rely on it, because stderr is text from a remote server we do not control.
 */
export function stderrTail(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map(
      (line) =>
        line
          .split('\r')
          .filter((s) => s.trim())
          .at(-1) ?? '',
    )
    .filter(Boolean);
  let tail = lines.join('\n');
  for (const [pattern, replacement] of SECRETS) tail = tail.replace(pattern, replacement);
  return tail.length > TAIL_CHARS ? `…${tail.slice(-TAIL_CHARS)}` : tail;
}
