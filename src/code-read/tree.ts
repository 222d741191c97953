import { nulRecords } from '../git/nul-records.js';
import { resolveCommit } from './commits.js';
import { CodeReadError, requireCount } from './errors.js';
import { validatePath } from './paths.js';
import { readFailure, readGit, stoppedBy, type ReadOptions } from './read-git.js';

export type EntryType = 'blob' | 'tree' | 'symlink' | 'submodule';

export interface TreeEntry {
  path: string;
  type: EntryType;
  /** git's file mode: 100644, 100755, 120000 (symlink), 040000 (tree), 160000 (submodule). */
  mode: string;
  /** Bytes of a blob or symlink; null for trees and submodules. */
  size: number | null;
  /** The blob's or tree's id; for a submodule, the commit it pins. */
  oid: string;
  /** A symlink's target, read from its blob and never followed; null when longer than PATH_MAX. */
  target?: string | null;
}

/** Longest symlink target read: PATH_MAX. A longer one could never resolve anyway. */
const MAX_TARGET_BYTES = 4096;

interface ListedEntry extends TreeEntry {
  /** The path's bytes, with `/` after a tree's: git lists a tree in this order, depth first. */
  key: Buffer;
}

/** One record of `ls-tree -l -z`: `<mode> <type> <oid> <size>\t<path>`. */
function parseEntry(record: Buffer): ListedEntry | undefined {
  const tab = record.indexOf(9);
  if (tab === -1) return undefined;
  const [mode = '', kind = '', oid = '', size = '-'] = record.subarray(0, tab).toString().trim().split(/\s+/);
  const name = record.subarray(tab + 1);
  const type: EntryType =
    mode === '120000' ? 'symlink' : kind === 'tree' ? 'tree' : kind === 'commit' ? 'submodule' : 'blob';
  const key = type === 'tree' ? Buffer.concat([name, Buffer.from('/')]) : name;
  return { path: name.toString(), type, mode, size: size === '-' ? null : Number(size), oid, key };
}

const entryOf = ({ key: _key, ...entry }: ListedEntry): TreeEntry => entry;

/** The entries of commit `oid` at exactly these paths (validated, non-root); a path it lacks is absent. */
export async function entriesAt(
  repoDir: string,
  oid: string,
  paths: string[],
  o: ReadOptions = {},
): Promise<Map<string, TreeEntry>> {
  const found = new Map<string, TreeEntry>();
  const wanted = new Set(paths);
  try {
    await readGit(repoDir, ['ls-tree', '-l', '-z', '--full-tree', oid, '--', ...paths], {
      ...o,
      onStdout: nulRecords((record) => {
        const entry = parseEntry(record);
        if (entry && wanted.has(entry.path)) found.set(entry.path, entryOf(entry));
        return undefined;
      }),
    });
  } catch (err) {
    throw readFailure(err);
  }
  return found;
}

export async function entryAt(repoDir: string, oid: string, path: string, o: ReadOptions = {}): Promise<TreeEntry> {
  const entry = (await entriesAt(repoDir, oid, [path], o)).get(path);
  if (!entry) throw new CodeReadError('path_not_found', 'No such path in this commit');
  return entry;
}

/** Fills in the symlinks' targets from their blobs, with one `cat-file --batch` for the whole page. */
async function withTargets(repoDir: string, entries: TreeEntry[], o: ReadOptions): Promise<TreeEntry[]> {
  const links = entries.filter((e) => e.type === 'symlink');
  for (const link of links) link.target = null;
  const readable = links.filter((e) => e.size !== null && e.size <= MAX_TARGET_BYTES);
  if (readable.length === 0) return entries;
  let out: Buffer;
  try {
    out = await readGit(repoDir, ['cat-file', '--batch'], { ...o, stdin: readable.map((e) => `${e.oid}\n`).join('') });
  } catch (err) {
    throw readFailure(err);
  }
  // Each answer: `<oid> blob <size>\n<content>\n` (or `<oid> missing\n`), in the order asked.
  let at = 0;
  for (const link of readable) {
    const header = out.indexOf(10, at);
    if (header === -1) break;
    const [, kind, size] = out.subarray(at, header).toString().split(' ');
    if (kind !== 'blob') {
      at = header + 1;
      continue;
    }
    link.target = out.subarray(header + 1, header + 1 + Number(size)).toString();
    at = header + 1 + Number(size) + 1;
  }
  return entries;
}

export interface ListTreeOptions extends ReadOptions {
  /** A directory (its entries) or a file (that one entry); default the root. */
  path?: string;
  recursive?: boolean;
  limit: number;
  cursor?: string;
}

export interface TreePage {
  commit: string;
  entries: TreeEntry[];
  /** Null on the last page. */
  nextCursor: string | null;
}

function decodeCursor(cursor: string): Buffer {
  const key = Buffer.from(cursor, 'base64url');
  if (key.length === 0 || key.toString('base64url') !== cursor)
    throw new CodeReadError('invalid_argument', 'Not a cursor of this listing');
  return key;
}

/**
 * The entries under `path` in the commit's tree, in git's order (depth first when recursive,
 * trees listed before their contents), `limit` at a time. The cursor is the last entry's key:
 * the next page is what git lists after it, so a page costs a listing up to its own end.
 */
export async function listTree(repoDir: string, commit: string | undefined, o: ListTreeOptions): Promise<TreePage> {
  const limit = requireCount(o.limit, 'limit');
  const after = o.cursor === undefined ? undefined : decodeCursor(o.cursor);
  const oid = await resolveCommit(repoDir, commit, o);
  const dir = validatePath(o.path ?? '');
  if (dir !== '') {
    const entry = await entryAt(repoDir, oid, dir, o);
    if (entry.type !== 'tree')
      return { commit: oid, entries: await withTargets(repoDir, [entry], o), nextCursor: null };
  }
  const prefix = dir === '' ? '' : `${dir}/`;
  const listed: ListedEntry[] = [];
  try {
    await readGit(
      repoDir,
      [
        'ls-tree',
        '-l',
        '-z',
        '--full-tree',
        ...(o.recursive ? ['-r', '-t'] : []),
        oid,
        '--',
        ...(prefix ? [prefix] : []),
      ],
      {
        ...o,
        maxStdoutBytes: Number.POSITIVE_INFINITY,
        onStdout: nulRecords((record) => {
          const entry = parseEntry(record);
          // With -t git also lists the trees leading to the directory.
          if (!entry || !entry.path.startsWith(prefix)) return undefined;
          if (after && Buffer.compare(entry.key, after) <= 0) return undefined;
          listed.push(entry);
          return listed.length > limit ? 'page full' : undefined;
        }),
      },
    );
  } catch (err) {
    if (!stoppedBy(err, 'page full')) throw readFailure(err);
  }
  const page = listed.slice(0, limit);
  return {
    commit: oid,
    entries: await withTargets(repoDir, page.map(entryOf), o),
    nextCursor: listed.length > limit ? page.at(-1)!.key.toString('base64url') : null,
  };
}
