import path from 'node:path';

/** Header (signature, version, entry count) and trailing checksum of a `.git/index`. */
const INDEX_FIXED_BYTES = 12 + 20;
/** ctime, mtime, dev, ino, mode, uid, gid, size (4 bytes each), object id (20), flags (2). */
const ENTRY_FIXED_BYTES = 62;
/** The cache-tree extension's share per directory: its name, NUL, two counts, a space, a newline, an object id. */
const TREE_EXTENSION_BYTES_PER_DIRECTORY = 1 + 2 * 11 + 2 + 20;

/**
 * An upper bound of the `.git/index` that checking out these paths writes (version 2, as git
 * writes it by default): each entry is padded with 1 to 8 NUL bytes to a multiple of 8, and a
 * cache-tree extension may name every directory. Checkout writes this file too, so it counts
 * against the budget like the files themselves.
 */
export function checkoutIndexBytes(paths: string[]): number {
  let bytes = INDEX_FIXED_BYTES + 8; // the extension's own header
  const directories = new Set<string>(['']);
  for (const file of paths) {
    const length = Buffer.byteLength(file);
    bytes += Math.floor((ENTRY_FIXED_BYTES + length + 8) / 8) * 8;
    for (let dir = path.posix.dirname(file); dir !== '.' && !directories.has(dir); dir = path.posix.dirname(dir)) directories.add(dir);
  }
  for (const dir of directories) bytes += Buffer.byteLength(path.posix.basename(dir)) + TREE_EXTENSION_BYTES_PER_DIRECTORY;
  return bytes;
}
