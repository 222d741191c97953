/** One progress line of git's stderr, e.g. `Receiving objects:  45% (9/20), 1.20 MiB | 2.00 MiB/s`. */
export interface GitProgress {
  stage: string;
  percent: number;
  /** Bytes received so far, when git reports them (the "Receiving objects" stage). */
  bytes?: number;
  /** git's own receive rate, in bytes per second, shown next to the bytes once it has measured one. */
  bytesPerSecond?: number;
}

// git writes "1 byte" and "1 byte/s" in the singular (progress.c, strbuf_humanise).
const UNITS: Record<string, number> = { byte: 1, bytes: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 };
const PROGRESS =
  /^(?:remote: )?([A-Za-z][A-Za-z ]+):\s+(\d+)% \(\d+\/\d+\)(?:, ([\d.]+) (bytes?|KiB|MiB|GiB)(?: \| ([\d.]+) (bytes?|KiB|MiB|GiB)\/s)?)?/;

export function parseProgress(line: string): GitProgress | undefined {
  const match = PROGRESS.exec(line.trim());
  if (!match) return undefined;
  const progress: GitProgress = { stage: match[1]!.toLowerCase(), percent: Number(match[2]) };
  if (match[3] && match[4]) progress.bytes = Math.round(Number(match[3]) * UNITS[match[4]]!);
  if (match[5] && match[6]) progress.bytesPerSecond = Math.round(Number(match[5]) * UNITS[match[6]]!);
  return progress;
}
