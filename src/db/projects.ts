import type { Queryable } from './client.js';

export interface Project {
  id: string;
  name: string;
  ownerId: string;
  createdAt: Date;
}

interface ProjectRow {
  id: string;
  name: string;
  owner_id: string;
  created_at: Date;
}

const toProject = (r: ProjectRow): Project => ({
  id: r.id,
  name: r.name,
  ownerId: r.owner_id,
  createdAt: r.created_at,
});

export async function createProject(sql: Queryable, input: { name: string; ownerId: string }): Promise<Project> {
  const [row] = await sql<ProjectRow[]>`
    insert into projects (name, owner_id) values (${input.name}, ${input.ownerId})
    returning id, name, owner_id, created_at`;
  return toProject(row!);
}

/** The project, if it exists and belongs to `ownerId`; anything else looks the same: not found. */
export async function findOwnedProject(sql: Queryable, id: string, ownerId: string): Promise<Project | undefined> {
  const [row] = await sql<ProjectRow[]>`
    select id, name, owner_id, created_at from projects where id = ${id} and owner_id = ${ownerId}`;
  return row ? toProject(row) : undefined;
}
