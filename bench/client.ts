import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { sign } from 'hono/jwt';
import { timed } from './stats.js';

export interface Admission {
  status: number;
  ms: number;
  repoId?: string;
  workflowId?: string;
}

/** The REST API as a client sees it, as one bench user. */
export async function apiClient(apiUrl: string, jwtSecret: string, gitToken: string) {
  const now = Math.floor(Date.now() / 1000);
  const auth = `Bearer ${await sign({ sub: 'bench-user', iat: now, exp: now + 6 * 3600 }, jwtSecret, 'HS256')}`;
  const request = async (method: string, route: string, body?: unknown) => {
    const res = await fetch(`${apiUrl}/api/v1${route}`, {
      method,
      headers: { authorization: auth, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, headers: res.headers, body: (await res.json()) as any };
  };

  const repoStatuses = async (projectId: string): Promise<Map<string, string>> => {
    const statuses = new Map<string, string>();
    let cursor = '';
    do {
      const page = await request('GET', `/code/projects/${projectId}/repos?limit=100${cursor && `&cursor=${cursor}`}`);
      for (const repo of page.body as Array<{ id: string; clone_status: string }>)
        statuses.set(repo.id, repo.clone_status);
      cursor = page.headers.get('x-next-cursor') ?? '';
    } while (cursor);
    return statuses;
  };

  return {
    async createProject(name: string): Promise<string> {
      const res = await request('POST', '/projects', { name });
      if (res.status !== 201) throw new Error(`creating a project answered ${res.status}: ${JSON.stringify(res.body)}`);
      return res.body.id as string;
    },
    /** `POST /code/connect`, timed until its answer (admission). */
    async connect(projectId: string, gitUrl: string, requestId: string = randomUUID()): Promise<Admission> {
      const { ms, value } = await timed(() =>
        request('POST', '/code/connect', {
          git_url: gitUrl,
          access_token: gitToken,
          project_id: projectId,
          request_id: requestId,
        }),
      );
      return { status: value.status, ms, repoId: value.body.repo_id, workflowId: value.body.workflow_id };
    },
    repoStatuses,
    /** `GET /code/repos/{id}`: the row and its state (`sandbox_path`, `clone_status`). */
    async repo(repoId: string): Promise<any> {
      const res = await request('GET', `/code/repos/${repoId}`);
      if (res.status !== 200) throw new Error(`GET /code/repos/${repoId} answered ${res.status}`);
      return res.body;
    },
    /** A read of connected code (`GET /code/repos/{id}/<read>`, a JSON answer), timed until its body is in. */
    async read(repoId: string, read: string): Promise<{ status: number; ms: number; body: any }> {
      const { ms, value } = await timed(() => request('GET', `/code/repos/${repoId}/${read}`));
      return { status: value.status, ms, body: value.body };
    },
    /** Polls until `repoId` is COMPLETED (every `intervalMs`); throws if it fails. */
    async waitCompleted(repoId: string, intervalMs = 20): Promise<void> {
      for (;;) {
        const res = await request('GET', `/code/repos/${repoId}`);
        if (res.body.clone_status === 'COMPLETED') return;
        if (res.body.clone_status === 'FAILED') throw new Error(`repository ${repoId} failed to clone`);
        await sleep(intervalMs);
      }
    },
    /** Polls the project's list until every one of `repoIds` is COMPLETED; throws on a failure. */
    async waitAllCompleted(projectId: string, repoIds: string[], intervalMs = 200): Promise<void> {
      for (;;) {
        const statuses = await repoStatuses(projectId);
        if (repoIds.some((id) => statuses.get(id) === 'FAILED')) throw new Error('a repository failed to clone');
        if (repoIds.every((id) => statuses.get(id) === 'COMPLETED')) return;
        await sleep(intervalMs);
      }
    },
  };
}

export type ApiClient = Awaited<ReturnType<typeof apiClient>>;
