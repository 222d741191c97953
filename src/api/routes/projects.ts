import { Hono } from 'hono';
import { createProject, findOwnedProject, listOwnedProjects } from '../../db/projects.js';
import type { ApiEnv } from '../context.js';
import type { ApiDeps } from '../deps.js';
import { ApiError } from '../errors.js';
import { projectBody } from '../presenters.js';
import { decodeCursor, encodeCursor } from '../pagination.js';
import { createProjectSchema, listReposQuerySchema, projectParamsSchema } from '../schemas.js';
import { validate } from '../validation.js';

export function projectRoutes({ sql }: ApiDeps) {
  return new Hono<ApiEnv>()
    .post('/', validate('json', createProjectSchema), async (c) => {
      const project = await createProject(sql, { name: c.req.valid('json').name, ownerId: c.get('userId') });
      return c.json(projectBody(project), 201);
    })
    .get('/', validate('query', listReposQuerySchema), async (c) => {
      const { limit, cursor } = c.req.valid('query');
      // One more than the page: whether there is a next page, without a count.
      const page = await listOwnedProjects(sql, c.get('userId'), limit + 1, cursor ? decodeCursor(cursor) : undefined);
      const items = page.slice(0, limit);
      if (page.length > limit) c.header('X-Next-Cursor', encodeCursor(items.at(-1)!));
      return c.json(items.map(projectBody));
    })
    .get('/:project_id', validate('param', projectParamsSchema), async (c) => {
      const project = await findOwnedProject(sql, c.req.valid('param').project_id, c.get('userId'));
      if (!project) throw new ApiError(404, 'project_not_found', 'Project not found');
      return c.json(projectBody(project));
    });
}
