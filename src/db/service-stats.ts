import type { Queryable } from './client.js';

/** What the business gauges show, read in one round trip. */
export interface ServiceStats {
  /** Projects with at least one repository still connected (not disconnected). */
  projectsWithRepos: number;
  /** Kept clones recorded larger than the limit they were held to (else today's): a size check bypassed somewhere. */
  completedOverLimit: number;
}

export async function readServiceStats(sql: Queryable, limitMb: number): Promise<ServiceStats> {
  const [row] = await sql<Array<{ projects: number; over: number }>>`
    select
      (select count(distinct project_id)::int from code_repos where disconnected_at is null) as projects,
      (select count(*)::int from code_repos
        where clone_status = 'COMPLETED' and repository_size_mb > coalesce(size_limit_mb, ${limitMb})) as over`;
  return { projectsWithRepos: row!.projects, completedOverLimit: row!.over };
}
