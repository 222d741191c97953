import { CACHE_TREE_BYTES_PER_DIRECTORY, INDEX_BASE_BYTES, indexEntryBytes } from './index-size.js';
import { nulRecords } from './nul-records.js';

/** What a checkout of a tree will allocate: blocks in bytes, inodes (every entry), and regular files (blobs). */
export interface TreeStats {
  bytes: number;
  inodes: number;
  files: number;
}

/** Blocks a file of `size` bytes takes: its data rounded up (none when empty), plus the block maps ext2/3 would need. */
export function fileBlocks(size: number, blockSize: number): number {
  const data = Math.ceil(size / blockSize);
  const perMap = blockSize / 4;
  return data <= 12 ? data : data + Math.ceil((data - 12) / perMap) + (data - 12 > perMap ? 1 : 0);
}

/** ext4's directory entry: 8 bytes and the name, padded to 4. */
const direntBytes = (nameBytes: number) => 8 + Math.ceil(nameBytes / 4) * 4;
/** "." and "..". */
const EMPTY_DIRECTORY_BYTES = 24;

/**
 * Blocks a directory of `entryBytes` takes: one when its entries fit, else hashed-tree leaves
 * that a split may leave half full, and their index blocks.
 */
export function directoryBlocks(entryBytes: number, blockSize: number): number {
  if (entryBytes <= blockSize) return 1;
  const leaves = Math.ceil(entryBytes / (blockSize / 2 - 264));
  const perIndex = blockSize / 8;
  return leaves + 1 + (leaves > perIndex ? Math.ceil(leaves / perIndex) : 0);
}

/**
 * Reads `git ls-tree -r -t -l -z` output as it streams (entries depth-first, each tree before
 * its contents) and sums what checking it out allocates, `.git/index` included, as an upper bound.
 */
export class TreeEstimate {
  private finished = 0;
  private inodes = 1;
  private files = 0;
  private indexBytes = INDEX_BASE_BYTES + CACHE_TREE_BYTES_PER_DIRECTORY;
  /** Directories still being listed, the root first, with their entries' bytes so far. */
  private readonly open: Array<{ path: string; bytes: number }> = [{ path: '', bytes: EMPTY_DIRECTORY_BYTES }];
  private readonly records = nulRecords((record) => {
    this.entry(record.toString());
    return undefined;
  });

  constructor(private readonly blockSize: number) {}

  add(chunk: Buffer): void {
    this.records(chunk);
  }

  /** The estimate so far: entries not yet listed can only add to it. */
  stats(): TreeStats {
    const openBlocks = this.open.reduce((sum, dir) => sum + directoryBlocks(dir.bytes, this.blockSize), 0);
    const index = fileBlocks(this.indexBytes, this.blockSize);
    return { bytes: (this.finished + openBlocks + index) * this.blockSize, inodes: this.inodes + 1, files: this.files };
  }

  private entry(line: string): void {
    const tab = line.indexOf('\t');
    if (tab === -1) return;
    const [, type, , size] = line.slice(0, tab).trim().split(/\s+/);
    const file = line.slice(tab + 1);
    const slash = file.lastIndexOf('/');
    const parent = slash === -1 ? '' : file.slice(0, slash);
    const name = Buffer.byteLength(file.slice(slash + 1));
    while (this.open.length > 1 && this.open.at(-1)!.path !== parent) this.close();
    this.open.at(-1)!.bytes += direntBytes(name);
    this.inodes += 1;
    if (type === 'tree' || type === 'commit') {
      // A gitlink checks out as an empty directory; it is an index entry too.
      this.open.push({ path: file, bytes: EMPTY_DIRECTORY_BYTES });
      if (type === 'tree') this.indexBytes += name + CACHE_TREE_BYTES_PER_DIRECTORY;
      else this.indexBytes += indexEntryBytes(Buffer.byteLength(file));
    } else {
      // Symlinks are written as files holding their target (core.symlinks=false).
      this.files += 1;
      this.finished += fileBlocks(Number(size), this.blockSize);
      this.indexBytes += indexEntryBytes(Buffer.byteLength(file));
    }
  }

  private close(): void {
    this.finished += directoryBlocks(this.open.pop()!.bytes, this.blockSize);
  }
}
