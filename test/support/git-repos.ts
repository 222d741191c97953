import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

const GIT_ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: 'Test',
  GIT_AUTHOR_EMAIL: 'test@example.com',
  GIT_COMMITTER_NAME: 'Test',
  GIT_COMMITTER_EMAIL: 'test@example.com',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
};

const git = (args: string[], cwd?: string) => run('git', args, { cwd, env: GIT_ENV });

async function writeFiles(work: string, files: Record<string, string | Buffer>): Promise<void> {
  for (const [file, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(work, file)), { recursive: true });
    await writeFile(path.join(work, file), content);
  }
}

const commitAll = async (work: string, message: string) => {
  await git(['add', '--all'], work);
  await git(['commit', '--quiet', '-m', message], work);
};

/**
 * Builds `<projectRoot>/<name>.git` for the test Git server: `build` makes commits in a fresh
 * work tree, which is then cloned bare into place and thrown away.
 */
async function bareRepo(projectRoot: string, name: string, build: (work: string) => Promise<void>): Promise<string> {
  const work = await mkdtemp(path.join(tmpdir(), 'rc-work-'));
  try {
    await git(['init', '--quiet', '--initial-branch=main', work]);
    await build(work);
    const bare = path.join(projectRoot, `${name}.git`);
    await git(['clone', '--quiet', '--bare', work, bare]);
    return bare;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** A bare repository with one commit holding `files` (path → content). */
export function createBareRepo(
  projectRoot: string,
  name: string,
  files: Record<string, string | Buffer>,
): Promise<string> {
  return bareRepo(projectRoot, name, async (work) => {
    await writeFiles(work, files);
    await commitAll(work, 'initial commit');
  });
}

/**
 * A repository whose history is heavy but whose tip is light: the first commit adds
 * `historyFiles`, the second deletes them and adds `tipFiles`.
 */
export function createRepoWithHeavyHistory(
  projectRoot: string,
  name: string,
  historyFiles: Record<string, Buffer>,
  tipFiles: Record<string, string | Buffer>,
): Promise<string> {
  return bareRepo(projectRoot, name, async (work) => {
    await writeFiles(work, historyFiles);
    await commitAll(work, 'heavy history');
    await git(['rm', '--quiet', '-r', '--', ...Object.keys(historyFiles)], work);
    await writeFiles(work, tipFiles);
    await commitAll(work, 'light tip');
  });
}

/**
 * A repository whose history holds `blobs` blobs of `blobBytes` random bytes (under `t/`) and
 * whose tip holds one small file: many tiny objects, so a large pack index next to its pack.
 * Built by `git fast-import` straight into one pack, which is quick even for many thousands.
 */
export async function createRepoWithTinyObjects(
  projectRoot: string,
  name: string,
  blobs: number,
  blobBytes = 8,
): Promise<string> {
  const bare = path.join(projectRoot, `${name}.git`);
  await git(['init', '--quiet', '--bare', '--initial-branch=main', bare]);
  const committer = 'committer Test <test@example.com> 1700000000 +0000\n';
  const parts: Buffer[] = [];
  for (let i = 1; i <= blobs; i++)
    parts.push(Buffer.from(`blob\nmark :${i}\ndata ${blobBytes}\n`), randomBytes(blobBytes), Buffer.from('\n'));
  const files = Array.from({ length: blobs }, (_, i) => `M 100644 :${i + 1} t/${i}\n`).join('');
  parts.push(Buffer.from(`commit refs/heads/main\n${committer}data 13\nheavy history\n${files}\n`));
  parts.push(
    Buffer.from(
      `commit refs/heads/main\n${committer}data 9\nlight tip\nD t\nM 100644 inline README.md\ndata 6\nlight\n\n`,
    ),
  );
  await gitWithInput(['--git-dir', bare, 'fast-import', '--quiet'], Buffer.concat(parts));
  return bare;
}

/** Runs git with `input` on its stdin. */
function gitWithInput(args: string[], input: Buffer | string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const child = spawn('git', args, { env: GIT_ENV, stdio: ['pipe', 'ignore', 'inherit'] });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`git ${args.join(' ')} exited ${code}`))));
    child.stdin.end(input);
  });
}

/** A small repository with `count` more branches on its one commit: a long ref listing (~60 bytes a ref). */
export async function createRepoWithManyRefs(projectRoot: string, name: string, count: number): Promise<string> {
  const bare = await createBareRepo(projectRoot, name, { 'README.md': 'many refs\n' });
  const { stdout: head } = await git(['--git-dir', bare, 'rev-parse', 'HEAD']);
  const commands = Array.from(
    { length: count },
    (_, i) => `create refs/heads/many-${String(i).padStart(6, '0')} ${head.trim()}\n`,
  ).join('');
  await gitWithInput(['--git-dir', bare, 'update-ref', '--stdin'], commands);
  return bare;
}

/**
 * A repository that tries to escape its sandbox: a symlink to a path outside it, and a
 * submodule whose URL uses the `ext::` transport to run a command that creates `markerPath`.
 */
export function createHostileRepo(projectRoot: string, name: string, markerPath: string): Promise<string> {
  return bareRepo(projectRoot, name, async (work) => {
    await writeFiles(work, {
      'README.md': 'hostile\n',
      '.gitmodules': `[submodule "evil"]\n\tpath = evil\n\turl = ext::sh -c touch% ${markerPath}\n`,
    });
    await run('ln', ['-s', '/etc/passwd', path.join(work, 'escape')]);
    await commitAll(work, 'base');
    const { stdout: head } = await git(['rev-parse', 'HEAD'], work);
    await git(['update-index', '--add', '--cacheinfo', `160000,${head.trim()},evil`], work);
    await git(['commit', '--quiet', '-m', 'add submodule'], work);
  });
}

/** Pushes a commit adding `files` onto the default branch of an existing bare repository (someone pushed). */
export async function pushCommit(
  bare: string,
  files: Record<string, string | Buffer>,
  message = 'a later commit',
): Promise<void> {
  const work = await mkdtemp(path.join(tmpdir(), 'rc-work-'));
  try {
    await git(['clone', '--quiet', bare, work]);
    await writeFiles(work, files);
    await commitAll(work, message);
    await git(['push', '--quiet', 'origin', 'HEAD'], work);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * `main` (the default) with two commits, an annotated tag `v1` on the first, and a branch
 * `feature/x` off the first with a commit of its own: each ref checks out different files.
 */
export function createRepoWithRefs(projectRoot: string, name: string): Promise<string> {
  return bareRepo(projectRoot, name, async (work) => {
    await writeFiles(work, { 'version.txt': 'v1\n' });
    await commitAll(work, 'first');
    await git(['tag', '-a', '-m', 'release v1', 'v1'], work);
    await git(['checkout', '--quiet', '-b', 'feature/x'], work);
    await writeFiles(work, { 'feature.txt': 'x\n' });
    await commitAll(work, 'feature');
    await git(['checkout', '--quiet', 'main'], work);
    await writeFiles(work, { 'version.txt': 'v2\n' });
    await commitAll(work, 'second');
  });
}

/** What `rev` names in a bare repository, as a full commit SHA. */
export async function revParse(bare: string, rev: string): Promise<string> {
  const { stdout } = await git(['--git-dir', bare, 'rev-parse', '--verify', `${rev}^{commit}`]);
  return stdout.trim();
}
