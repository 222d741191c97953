import { Hono } from 'hono';
import { createProject, findProject, type Project } from '../../db/projects.js';
import { ANONYMOUS_USER, type ApiDeps } from '../deps.js';
import { ApiError } from '../errors.js';
import { createProjectSchema, projectParamsSchema } from '../schemas.js';
import { validate } from '../validation.js';

const toBody = (p: Project) => ({ id: p.id, name: p.name, owner_id: p.ownerId, created_at: p.createdAt.toISOString() });

export function projectRoutes({ sql }: ApiDeps) {
  return new Hono()
    .post('/', validate('json', createProjectSchema), async (c) => {
      const project = await createProject(sql, { name: c.req.valid('json').name, ownerId: ANONYMOUS_USER });
      return c.json(toBody(project), 201);
    })
    .get('/:project_id', validate('param', projectParamsSchema), async (c) => {
      const project = await findProject(sql, c.req.valid('param').project_id);
      if (!project) throw new ApiError(404, 'project_not_found', 'Project not found');
      return c.json(toBody(project));
    });
}
