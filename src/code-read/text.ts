/** git's own rule (buffer_is_binary): a NUL in the first 8000 bytes makes a blob binary. */
export const SNIFF_BYTES = 8000;

/** The start of a UTF-8 character at or after `at` (past continuation bytes). */
export function charStart(bytes: Buffer, at: number): number {
  let i = at;
  while (i < bytes.length && i < at + 3 && (bytes[i]! & 0xc0) === 0x80) i++;
  return i;
}

/** `end`, or less so that no UTF-8 character is cut in two before it. */
export function charEnd(bytes: Buffer, end: number): number {
  let lead = end - 1;
  while (lead > 0 && lead > end - 4 && (bytes[lead]! & 0xc0) === 0x80) lead--;
  if (lead < 0) return end;
  const byte = bytes[lead]!;
  const length = byte < 0x80 ? 1 : byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
  return lead + length > end ? lead : end;
}

/** At most `maxBytes` of text: up to the last line end within them, else as many whole characters. */
export function cutText(bytes: Buffer, maxBytes: number): Buffer {
  if (bytes.length <= maxBytes) return bytes;
  const newline = bytes.lastIndexOf(10, maxBytes - 1);
  return bytes.subarray(0, newline >= 0 ? newline + 1 : charEnd(bytes, maxBytes));
}

export const lineCount = (bytes: Buffer): number => {
  let count = 0;
  for (let at = bytes.indexOf(10); at !== -1; at = bytes.indexOf(10, at + 1)) count++;
  return bytes.length > 0 && bytes[bytes.length - 1] !== 10 ? count + 1 : count;
};

export interface LfsPointer {
  /** `sha256:<64 hex>`: the stored object's id. */
  oid: string;
  /** Bytes of the object the pointer stands for. */
  size: number;
}

const LFS_VERSION = 'version https://git-lfs.github.com/spec/v1';
/** The spec's bound: pointer files are smaller than 1024 bytes. */
const LFS_POINTER_MAX_BYTES = 1024;

/** The Git LFS pointer a whole blob is, by the spec's header and its `oid` and `size` keys; else null. */
export function lfsPointerOf(blob: Buffer): LfsPointer | null {
  if (blob.length >= LFS_POINTER_MAX_BYTES) return null;
  const text = blob.toString();
  if (!text.startsWith(`${LFS_VERSION}\n`)) return null;
  const oid = /^oid sha256:([0-9a-f]{64})$/m.exec(text);
  const size = /^size (\d+)$/m.exec(text);
  return oid && size ? { oid: `sha256:${oid[1]}`, size: Number(size[1]) } : null;
}

/**
 * Takes a blob's bytes as git streams them and keeps what a read returns: its first bytes (to
 * tell binary from text, and what a binary read returns: line numbers mean nothing there), and
 * lines startLine..endLine (1-based, inclusive) up to one byte past maxBytes, so a cut is known.
 * `push` says when the rest of the blob is not needed.
 */
export class BlobWindow {
  private readonly first: KeptBytes;
  private binary: boolean | undefined;
  private readonly kept: KeptBytes;
  private line = 1;
  private rangeDone = false;

  constructor(
    maxBytes: number,
    private readonly startLine = 1,
    private readonly endLine = Number.POSITIVE_INFINITY,
  ) {
    this.first = new KeptBytes(Math.max(SNIFF_BYTES - 1, maxBytes));
    this.kept = new KeptBytes(maxBytes);
  }

  push(chunk: Buffer): boolean {
    if (this.binary !== false) this.sniff(chunk);
    if (this.binary !== true) this.lines(chunk);
    return this.binary === true ? this.first.full() : this.binary === false && this.rangeDone;
  }

  /** Whether the blob is binary; at its end, a blob shorter than SNIFF_BYTES without a NUL is text. */
  isBinary(): boolean {
    return this.binary ?? false;
  }

  /** The blob's first bytes: at least SNIFF_BYTES of them when it has that many; for a binary blob, up to maxBytes + 1. */
  head(): Buffer {
    return this.first.bytes();
  }

  /** The lines of the range, up to maxBytes + 1. */
  range(): Buffer {
    return this.kept.bytes();
  }

  private sniff(chunk: Buffer): void {
    const before = this.first.length;
    this.first.add(chunk);
    if (this.binary !== undefined) return;
    if (chunk.subarray(0, SNIFF_BYTES - before).includes(0)) this.binary = true;
    else if (this.first.length >= SNIFF_BYTES) this.binary = false;
  }

  private lines(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length && !this.rangeDone) {
      const newline = chunk.indexOf(10, at);
      const end = newline === -1 ? chunk.length : newline + 1;
      if (this.line >= this.startLine && this.kept.add(chunk.subarray(at, end))) this.rangeDone = true;
      if (newline === -1) break;
      at = end;
      this.line++;
      if (this.line > this.endLine) this.rangeDone = true;
    }
  }
}

/** Bytes kept up to one past a limit, so that whether more came is known. */
export class KeptBytes {
  private readonly parts: Buffer[] = [];
  length = 0;

  constructor(private readonly limit: number) {}

  /** Keeps what of `part` fits; true once past the limit. */
  add(part: Buffer): boolean {
    const room = this.limit + 1 - this.length;
    if (room > 0 && part.length > 0) {
      this.parts.push(part.subarray(0, room));
      this.length += Math.min(part.length, room);
    }
    return this.full();
  }

  full(): boolean {
    return this.length > this.limit;
  }

  bytes(): Buffer {
    return Buffer.concat(this.parts);
  }
}
