import { Hono } from 'hono';
import { createProject, findOwnedProject } from '../../db/projects.js';
import type { ApiEnv } from '../context.js';
import type { ApiDeps } from '../deps.js';
import { ApiError } from '../errors.js';
import { projectBody } from '../presenters.js';
import { createProjectSchema, projectParamsSchema } from '../schemas.js';
import { validate } from '../validation.js';

export function projectRoutes({ sql }: ApiDeps) {
  return new Hono<ApiEnv>()
    .post('/', validate('json', createProjectSchema), async (c) => {
      const project = await createProject(sql, { name: c.req.valid('json').name, ownerId: c.get('userId') });
      return c.json(projectBody(project), 201);
    })
    .get('/:project_id', validate('param', projectParamsSchema), async (c) => {
      const project = await findOwnedProject(sql, c.req.valid('param').project_id, c.get('userId'));
      if (!project) throw new ApiError(404, 'project_not_found', 'Project not found');
      return c.json(projectBody(project));
    });
}
