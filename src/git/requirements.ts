import { execFile } from 'node:child_process';

/**
 * git 2.37 is the first to read `http.curloptResolve` (Documentation/RelNotes/2.37.0.txt: "With
 * the new http.curloptResolve configuration, the CURLOPT_RESOLVE mechanism ... is exposed");
 * an older git ignores the setting without a word, and connects wherever DNS says by then.
 */
export const MIN_GIT_VERSION = [2, 37] as const;

interface Requirement {
  /** The command and arguments that prove it works here, exactly as run-git.ts or pack-budget.ts uses it. */
  probe: [string, ...string[]];
  /** Whether its output is what we rely on (exit status 0 alone when absent). */
  accepts?: (stdout: string) => boolean;
  /** One line: what is missing, why it matters, how to get it. */
  missing: string;
}

const gitVersion = (stdout: string): number[] | undefined =>
  /^git version (\d+)\.(\d+)/.exec(stdout)?.slice(1).map(Number);
const recentEnough = (stdout: string) => {
  const [major = 0, minor = 0] = gitVersion(stdout) ?? [];
  return major > MIN_GIT_VERSION[0] || (major === MIN_GIT_VERSION[0] && minor >= MIN_GIT_VERSION[1]);
};

const REQUIREMENTS: Requirement[] = [
  {
    probe: ['git', '--version'],
    accepts: recentEnough,
    missing: `git ≥ ${MIN_GIT_VERSION.join('.')} (older ones ignore http.curloptResolve, the pin to the checked address): install a newer git`,
  },
  {
    probe: ['prlimit', '--fsize=1048576', '--', 'true'],
    missing: 'prlimit (caps each file git writes): install util-linux',
  },
  {
    probe: ['setpriv', '--pdeathsig', 'KILL', '--', 'true'],
    missing: 'setpriv --pdeathsig (git dies with the worker): install util-linux',
  },
  {
    probe: ['env', '--ignore-signal=XFSZ', '--', 'true'],
    missing: 'env --ignore-signal (a file-size cap reported, not a silent kill): install GNU coreutils ≥ 8.31',
  },
  {
    probe: ['nice', '-n', '10', '--', 'true'],
    missing: 'nice (clones at a lower CPU priority): install GNU coreutils',
  },
  {
    // The pack-budget shim reads a pack header with exactly this pipeline.
    probe: ['sh', '-c', 'printf PACK00000000 | dd bs=1 count=12 2>/dev/null | od -An -tu1 -v | wc -w'],
    accepts: (stdout) => stdout.trim() === '12',
    missing: 'sh, dd, od and wc (the pack budget reads a pack header with them): install GNU coreutils',
  },
];

/** How long one probe may take: each is a program that exits at once. */
const PROBE_TIMEOUT_MS = 10_000;

function passes(requirement: Requirement): Promise<boolean> {
  const [command, ...args] = requirement.probe;
  return new Promise((resolve) => {
    execFile(command, args, { timeout: PROBE_TIMEOUT_MS }, (err, stdout) =>
      resolve(!err && (requirement.accepts?.(stdout) ?? true)),
    );
  });
}

/** What this host lacks of what git's hardening relies on: one line each, empty when all is there. */
export async function missingGitRequirements(): Promise<string[]> {
  const results = await Promise.all(REQUIREMENTS.map(async (r) => ((await passes(r)) ? undefined : r.missing)));
  return results.filter((line): line is string => line !== undefined);
}

/**
 * For entry points that run git: refuses to start (EX_CONFIG, like a bad environment) rather
 * than run git with a hardening silently missing.
 */
export async function requireGitOrExit(): Promise<void> {
  const missing = await missingGitRequirements();
  if (missing.length === 0) return;
  process.stderr.write(missing.map((line) => `Cannot run git safely here, missing: ${line}\n`).join(''));
  process.exit(78); // EX_CONFIG
}
