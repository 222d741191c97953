import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

/** Lints `code` as if it were the file at `filePath`, and returns the import walls it breaks. */
async function wallsBroken(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  const unparsed = result!.messages.filter((m) => m.fatal);
  expect(unparsed, filePath).toEqual([]);
  return result!.messages.filter((m) => m.ruleId === '@typescript-eslint/no-restricted-imports').map((m) => m.message);
}
// With CI set, typescript-eslint would parse each file once from disk (single-run mode) and lint the file's own text.
const eslint = new ESLint({
  overrideConfig: { languageOptions: { parserOptions: { disallowAutomaticSingleRunInference: true } } },
});

// The first lint builds the TypeScript program of the whole project.
describe('the folder walls (eslint.config.js)', { timeout: 60_000 }, () => {
  it('stop the API from importing an activity or git', async () => {
    const activity = await wallsBroken(
      'src/api/routes/code.ts',
      "import { createCloneRepository } from '../../activities/clone-repository.js';\nexport const x = createCloneRepository;\n",
    );
    expect(activity.join()).toMatch(/never runs activities/);
    const git = await wallsBroken(
      'src/api/routes/code.ts',
      "import { runGit } from '../../git/run-git.js';\nexport const x = runGit;\n",
    );
    expect(git.join()).toMatch(/never runs git/);
  });

  it('stop the API from reading a clone, while its types stay shared', async () => {
    const read = await wallsBroken(
      'src/api/routes/code.ts',
      "import { readFile } from '../../code-read/file.js';\nexport const x = readFile;\n",
    );
    expect(read.join()).toMatch(/never reads a clone/);
    const types = "import type { TreeEntry } from '../../code-read/tree.js';\nexport type X = TreeEntry;\n";
    expect(await wallsBroken('src/api/routes/code.ts', types)).toEqual([]);
  });

  it('keep postgres inside src/db', async () => {
    const code = "import postgres from 'postgres';\nexport const x = postgres;\n";
    expect((await wallsBroken('src/activities/clone-repository.ts', code)).join()).toMatch(
      /Only src\/db talks to PostgreSQL/,
    );
    expect((await wallsBroken('src/api/app.ts', code)).join()).toMatch(/Only src\/db talks to PostgreSQL/);
    expect(await wallsBroken('src/db/client.ts', code)).toEqual([]);
  });

  it('keep workflow code to the sandbox: no Node built-ins, no activity values, only src/shared', async () => {
    const file = 'src/workflows/connect-run.ts';
    for (const spec of [
      'node:fs',
      'postgres',
      '../activities/clone-repository.js',
      '../db/repos.js',
      '@temporalio/client',
    ]) {
      const broken = await wallsBroken(file, `import * as m from '${spec}';\nexport const x = m;\n`);
      expect(broken.join(), spec).toMatch(/replay sandbox/);
    }
  });

  it('let workflow code import the SDK, its own modules, src/shared and activity types', async () => {
    const allowed = [
      "import { sleep } from '@temporalio/workflow';",
      "import { ApplicationFailure } from '@temporalio/common';",
      "import { PATCHES } from './patches.js';",
      "import { canSync } from '../shared/repo-eligibility.js';",
      "import type { RetentionResult } from '../activities/retention.js';",
    ];
    for (const line of allowed) {
      expect(await wallsBroken('src/workflows/connect-run.ts', `${line}\nexport {};\n`), line).toEqual([]);
    }
  });
});
