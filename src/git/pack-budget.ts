import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

/**
 * The pack index (.idx, version 2) git writes for a pack of `objects` objects: 8 bytes of
 * header, a 256-entry fan-out table, then per object its 20-byte hash, CRC32 and 4-byte offset,
 * an 8-byte offset for each object past 2 GiB, and the pack's and the index's own checksums.
 */
export const INDEX_FIXED_BYTES = 8 + 256 * 4 + 20 + 20;
const INDEX_BYTES_PER_OBJECT = 20 + 4 + 4;
const LARGE_OFFSET = 2 ** 31;

/** Bytes per object of the index, when the pack may be `packBytes` long (an upper bound). */
export const indexBytesPerObject = (packBytes: number): number =>
  INDEX_BYTES_PER_OBJECT + (packBytes > LARGE_OFFSET ? 8 : 0);

export const indexBytes = (objects: number, packBytes: number): number =>
  INDEX_FIXED_BYTES + objects * indexBytesPerObject(packBytes);

/** How many objects an index of `bytes` bytes lists (the inverse of indexBytes, for packs under 2 GiB). */
export const objectsInIndex = (bytes: number): number =>
  Math.max(0, Math.ceil((bytes - INDEX_FIXED_BYTES) / INDEX_BYTES_PER_OBJECT));

/** How long the pack may grow so that it and its index stay within `budgetBytes` (0 when even the index does not fit). */
export const packCap = (budgetBytes: number, objects: number): number =>
  Math.max(0, budgetBytes - indexBytes(objects, budgetBytes));

/**
 * Stands in for `git` in git's exec path while fetching, and execs the real git for everything
 * but `index-pack`. index-pack writes the pack and then its index; the index's size follows
 * from the object count in the pack header, so before index-pack starts the shim reads that
 * header (from stdin, or from `--pack_header` when fetch-pack read it first) and execs
 * index-pack under RLIMIT_FSIZE = budget − index size. The kernel then holds the pack to that
 * cap whatever the pace of the transfer, which a poll of the directory cannot: a whole index
 * can land between two polls. The same cap applies to the index itself, so a pack whose index
 * alone is over half the budget fails; such a pack cannot fit anyway past ~1000 objects, since
 * each object but the tips is named by an incompressible 20-byte hash inside another and takes
 * ≥ 9 bytes of its own, ≥ 29 bytes of pack against 28 of index.
 * `dd bs=1` reads exactly 12 bytes; the rest of the pack stays on stdin for index-pack.
 */
export const SHIM_SCRIPT = `#!/bin/sh
# git may put its own options before the command (--shallow-file <f> for shallow repositories).
command=; header=; skip=
for arg in "$@"; do
  if [ -n "$skip" ]; then skip=; continue; fi
  if [ -z "$command" ]; then
    case "$arg" in --shallow-file|-c|-C|--git-dir|--work-tree|--namespace) skip=1; continue ;; -*) continue ;; *) command=$arg; continue ;; esac
  fi
  case "$arg" in --pack_header=*) header=\${arg#--pack_header=} ;; esac
done
if [ "$command" != index-pack ] || [ -z "$RC_PACK_BUDGET_BYTES" ]; then exec "$RC_REAL_GIT" "$@"; fi
if [ -z "$header" ]; then
  set_header() {
    [ "$#" -eq 12 ] && [ "$1 $2 $3 $4" = "80 65 67 75" ] || return 1
    header=$(( ($5 << 24) | ($6 << 16) | ($7 << 8) | $8 )),$(( ($9 << 24) | (\${10} << 16) | (\${11} << 8) | \${12} ))
  }
  bytes=$(dd bs=1 count=12 2>/dev/null | od -An -tu1 -v)
  if [ -z "$bytes" ] || [ "$(echo $bytes | wc -w)" -lt 12 ]; then echo 'fatal: early EOF' >&2; exit 128; fi
  set_header $bytes || { echo 'fatal: protocol error: bad pack header' >&2; exit 128; }
  # The header is read: index-pack is told it, right after its name.
  seen=
  for arg in "$@"; do
    if [ -z "$seen" ]; then set --; seen=1; fi
    set -- "$@" "$arg"
    if [ "$arg" = index-pack ]; then set -- "$@" "--pack_header=$header"; fi
  done
fi
objects=\${header#*,}
cap=$(( RC_PACK_BUDGET_BYTES - ${INDEX_FIXED_BYTES} - RC_INDEX_BYTES_PER_OBJECT * objects ))
[ "$cap" -gt 0 ] || cap=0
exec prlimit --fsize="$cap" -- "$RC_REAL_GIT" "$@"
`;

const run = promisify(execFile);
let shim: Promise<{ dir: string; realGit: string; realExecPath: string }> | undefined;

/** Written once per process: the shim's directory and the git it hands over to. */
function installShim() {
  shim ??= (async () => {
    const realExecPath = (await run('git', ['--exec-path'])).stdout.trim();
    const inExecPath = path.join(realExecPath, 'git');
    const realGit = existsSync(inExecPath) ? inExecPath : (await run('sh', ['-c', 'command -v git'])).stdout.trim();
    const dir = await mkdtemp(path.join(tmpdir(), 'git-pack-budget-'));
    await writeFile(path.join(dir, 'git'), SHIM_SCRIPT);
    await chmod(path.join(dir, 'git'), 0o755);
    return { dir, realGit, realExecPath };
  })();
  return shim;
}

/**
 * The environment that runs git's index-pack under the pack budget. GIT_EXEC_PATH points at the
 * shim (git puts its exec path first on PATH, so that is the only way in); the real exec path
 * follows on PATH, where git finds its helpers such as git-remote-https.
 */
export async function packBudgetEnvironment(
  env: Record<string, string>,
  budgetBytes: number,
): Promise<Record<string, string>> {
  const { dir, realGit, realExecPath } = await installShim();
  return {
    ...env,
    GIT_EXEC_PATH: dir,
    PATH: `${realExecPath}:${env.PATH ?? '/usr/bin:/bin'}`,
    RC_REAL_GIT: realGit,
    RC_PACK_BUDGET_BYTES: String(Math.floor(budgetBytes)),
    RC_INDEX_BYTES_PER_OBJECT: String(indexBytesPerObject(budgetBytes)),
  };
}
