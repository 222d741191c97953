import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import { decryptSecret } from '../crypto/envelope.js';
import { changeRepoStatus, type AuditContext } from '../db/repos.js';
import { cloneRepository as gitClone } from '../git/clone.js';
import { bytesToMb, directorySize, makeReadOnly, removeSandbox, sandboxPaths } from '../sandbox/sandbox.js';
import type { ActivityDeps } from './deps.js';
import { tokenContext } from './deps.js';
import type { EncryptedToken } from './encrypt-token.js';

export interface CloneRepositoryInput extends EncryptedToken {
  repoId: string;
  projectId: string;
  gitUrl: string;
  audit: AuditContext;
}

export interface CloneRepositoryResult {
  sandboxPath: string;
  repositorySizeMb: number;
  fileCount: number;
}

/** What the clone reports through heartbeats; the last one is visible in the Temporal UI. */
export interface CloneProgress {
  stage: string;
  percent: number;
}

const HEARTBEAT_INTERVAL_MS = 2000;

export function createCloneRepository({ sql, keys, logger, settings }: ActivityDeps) {
  return async function cloneRepository(input: CloneRepositoryInput): Promise<CloneRepositoryResult> {
    const ctx = Context.current();
    const paths = sandboxPaths(settings.sandboxBasePath, input.projectId, input.repoId);
    await changeRepoStatus(sql, { repoId: input.repoId, to: 'CLONING', sandboxPath: null }, input.audit);

    // A previous attempt may have died half way; start from an empty directory.
    await removeSandbox(paths.repository);
    await mkdir(path.dirname(paths.repository), { recursive: true, mode: 0o750 });

    let progress: CloneProgress = { stage: 'starting', percent: 0 };
    const beat = setInterval(() => ctx.heartbeat(progress), HEARTBEAT_INTERVAL_MS);
    try {
      const token = await decryptSecret(keys, Buffer.from(input.tokenCiphertext, 'base64'), input.tokenKid,
        tokenContext(input.projectId, input.repoId));
      await gitClone({
        gitUrl: input.gitUrl,
        targetDir: paths.repository,
        token,
        allowHttp: settings.allowLoopback,
        idleTimeoutMs: settings.gitCloneTimeoutSeconds * 1000,
        signal: ctx.cancellationSignal,
        onProgress: (e) => {
          progress = { stage: e.stage, percent: e.progress };
          ctx.heartbeat(progress);
        },
      });
    } catch (err) {
      await removeSandbox(paths.repository);
      throw err;
    } finally {
      clearInterval(beat);
    }

    const { bytes, files } = await directorySize(paths.repository);
    await makeReadOnly(paths.repository);
    const repositorySizeMb = bytesToMb(bytes);
    await changeRepoStatus(sql, {
      repoId: input.repoId,
      to: 'COMPLETED',
      repositorySizeMb,
      sandboxPath: paths.repository,
      metadata: { bytes, files },
    }, input.audit);
    logger.info({ repoId: input.repoId, repositorySizeMb, files }, 'repository cloned');
    return { sandboxPath: paths.repository, repositorySizeMb, fileCount: files };
  };
}
