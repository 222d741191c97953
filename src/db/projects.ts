import type { Queryable } from './client.js';

export interface Project {
  id: string;
  name: string;
  ownerId: string;
  createdAt: Date;
}

const PROJECT_COLUMNS = ['id', 'name', 'ownerId', 'createdAt'] as const satisfies readonly (keyof Project)[];

export async function createProject(sql: Queryable, input: { name: string; ownerId: string }): Promise<Project> {
  const [row] = await sql<Project[]>`
    insert into projects (name, owner_id) values (${input.name}, ${input.ownerId})
    returning ${sql(PROJECT_COLUMNS)}`;
  return row!;
}

/** The project, if it exists and belongs to `ownerId`; anything else looks the same: not found. */
export async function findOwnedProject(sql: Queryable, id: string, ownerId: string): Promise<Project | undefined> {
  const [row] = await sql<Project[]>`
    select ${sql(PROJECT_COLUMNS)} from projects where id = ${id} and owner_id = ${ownerId}`;
  return row;
}

/** A page of the user's projects, oldest first, after the project `afterId` (keyset on created_at, id). */
export async function listOwnedProjects(
  sql: Queryable,
  ownerId: string,
  limit: number,
  afterId?: string,
): Promise<Project[]> {
  return sql<Project[]>`
    select ${sql(PROJECT_COLUMNS)} from projects
    where owner_id = ${ownerId}
      ${afterId ? sql`and (created_at, id) > (select created_at, id from projects where id = ${afterId} and owner_id = ${ownerId})` : sql``}
    order by created_at, id
    limit ${limit}`;
}
