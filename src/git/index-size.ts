import path from 'node:path';

/** Header (signature, version, entry count), trailing checksum, and the cache-tree extension's own header. */
export const INDEX_BASE_BYTES = 12 + 20 + 8;
/** ctime, mtime, dev, ino, mode, uid, gid, size (4 bytes each), object id (20), flags (2). */
const ENTRY_FIXED_BYTES = 62;
/** The cache-tree extension's share per directory beyond its name: NUL, two counts, a space, a newline, an object id. */
export const CACHE_TREE_BYTES_PER_DIRECTORY = 1 + 2 * 11 + 2 + 20;

/** One index entry for a path of `pathBytes`: padded with 1 to 8 NUL bytes to a multiple of 8. */
export const indexEntryBytes = (pathBytes: number): number => Math.floor((ENTRY_FIXED_BYTES + pathBytes + 8) / 8) * 8;

/**
 * An upper bound of the `.git/index` that checking out these paths writes (version 2, as git
 * writes it by default), with a cache-tree extension that may name every directory. Checkout
 * writes this file too, so it counts against the budget like the files themselves.
 */
export function checkoutIndexBytes(paths: string[]): number {
  let bytes = INDEX_BASE_BYTES;
  const directories = new Set<string>(['']);
  for (const file of paths) {
    bytes += indexEntryBytes(Buffer.byteLength(file));
    for (let dir = path.posix.dirname(file); dir !== '.' && !directories.has(dir); dir = path.posix.dirname(dir))
      directories.add(dir);
  }
  for (const dir of directories) bytes += Buffer.byteLength(path.posix.basename(dir)) + CACHE_TREE_BYTES_PER_DIRECTORY;
  return bytes;
}
