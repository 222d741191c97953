import { open, readdir, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';

/**
 * What a sync attempt leaves behind when it dies (a killed git, a lost worker), kept on disk so
 * the next attempt, on whichever worker of the host, can undo it: only syncs write a kept clone.
 */

const gitDir = (repoDir: string) => path.join(repoDir, '.git');
const packDir = (repoDir: string) => path.join(repoDir, '.git', 'objects', 'pack');
/** The packs the clone held before a sync fetched; present only while a sync may have written more. */
const markerOf = (repoDir: string) => path.join(repoDir, '.git', 'connector-sync-packs.json');

export const packFiles = async (repoDir: string) =>
  new Set(await readdir(packDir(repoDir)).catch(() => [] as string[]));

/** Removes the files of the pack directory that `keep` does not name. */
export async function removePacksExcept(repoDir: string, keep: (file: string) => boolean): Promise<void> {
  for (const file of await packFiles(repoDir)) {
    if (!keep(file)) await rm(path.join(packDir(repoDir), file), { force: true });
  }
}

/** `pack-<hash>` of a pack's file (`.pack`, `.idx`, `.rev`, ...); undefined for any other file. */
const packNameOf = (file: string) => /^(pack-[0-9a-f]+)\.[a-z]+$/.exec(file)?.[1];

/**
 * Removes what a killed git left half-written in the pack directory: index-pack's `tmp_*`,
 * repack's `.tmp-*`, and a pack renamed into place without its index (or an index without its
 * pack), which git would not use. Safe only once no git works in the clone.
 */
export async function removeUnfinishedPacks(repoDir: string): Promise<void> {
  const files = await packFiles(repoDir);
  const whole = (name: string) => files.has(`${name}.pack`) && files.has(`${name}.idx`);
  await removePacksExcept(repoDir, (file) => {
    const name = packNameOf(file);
    return name === undefined ? !file.startsWith('tmp_') && !file.startsWith('.tmp-') : whole(name);
  });
}

/**
 * Removes the `*.lock` files a killed git left (index.lock, HEAD.lock, refs/**.lock, ...): with
 * one, every later git that writes the clone refuses to run. Objects take no locks.
 */
export async function removeStaleLocks(repoDir: string): Promise<void> {
  const sweep = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (full !== path.join(gitDir(repoDir), 'objects')) await sweep(full);
      } else if (entry.name.endsWith('.lock')) {
        await rm(full, { force: true });
      }
    }
  };
  await sweep(gitDir(repoDir));
}

/** Records the packs held now, durably (written, synced, renamed into place), before a fetch adds any. */
export async function recordPacksBefore(repoDir: string): Promise<void> {
  const marker = markerOf(repoDir);
  const file = await open(`${marker}.tmp`, 'w');
  try {
    await file.writeFile(JSON.stringify([...(await packFiles(repoDir))]));
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(`${marker}.tmp`, marker);
}

/** The packs recorded before an attempt's fetch; undefined when no attempt is under way (nothing of its to remove). */
export async function packsBeforeAttempt(repoDir: string): Promise<Set<string> | undefined> {
  const text = await readFile(markerOf(repoDir), 'utf8').catch(() => undefined);
  return text === undefined ? undefined : new Set(JSON.parse(text) as string[]);
}

/** The attempt is over: what it fetched is either checked out and recorded, or removed. */
export async function dropPacksBefore(repoDir: string): Promise<void> {
  await rm(`${markerOf(repoDir)}.tmp`, { force: true });
  await rm(markerOf(repoDir), { force: true });
}
