import { z } from 'zod';
import {
  connectRequestSchema,
  connectResponseSchema,
  createProjectSchema,
  errorSchema,
  projectSchema,
  repoSchema,
  repoStatusSchema,
} from './schemas.js';

const json = (schema: z.ZodType, io: 'input' | 'output' = 'output') => {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<string, unknown>;
  return { 'application/json': { schema: rest } };
};
const error = (description: string) => ({ description, content: json(errorSchema) });
const pathParam = (name: string) => ({ name, in: 'path', required: true, schema: { type: 'string', format: 'uuid' } });

/** The OpenAPI document, generated from the same zod schemas that validate requests. */
export function openApiDocument(allowLoopback: boolean) {
  return {
    openapi: '3.1.0',
    info: { title: 'repo-connector', version: '0.1.0', description: 'Connects Git repositories to the platform.' },
    paths: {
      '/api/v1/projects': {
        post: {
          summary: 'Create a project',
          requestBody: { required: true, content: json(createProjectSchema, 'input') },
          responses: { 201: { description: 'Created', content: json(projectSchema) }, 422: error('Invalid input') },
        },
      },
      '/api/v1/projects/{project_id}': {
        get: {
          summary: 'Get a project',
          parameters: [pathParam('project_id')],
          responses: { 200: { description: 'The project', content: json(projectSchema) }, 404: error('No such project') },
        },
      },
      '/api/v1/code/connect': {
        post: {
          summary: 'Connect a Git repository',
          description: 'Starts (or, for a repeated request_id, finds) the connectRepository workflow and answers once it admits the request.',
          requestBody: { required: true, content: json(connectRequestSchema(allowLoopback), 'input') },
          responses: {
            201: { description: 'Admitted', content: json(connectResponseSchema) },
            200: { description: 'Already admitted for this request_id', content: json(connectResponseSchema) },
            404: error('Unknown project'),
            422: error('Invalid input'),
          },
        },
      },
      '/api/v1/code/repos/{repo_id}': {
        get: {
          summary: 'Get a repository',
          parameters: [pathParam('repo_id')],
          responses: { 200: { description: 'The repository', content: json(repoSchema) }, 404: error('No such repository') },
        },
      },
      '/api/v1/code/repos/{repo_id}/status': {
        get: {
          summary: 'Clone status and live progress',
          parameters: [pathParam('repo_id')],
          responses: { 200: { description: 'Status', content: json(repoStatusSchema) }, 404: error('No such repository') },
        },
      },
      '/healthz': { get: { summary: 'Process alive', responses: { 200: { description: 'Alive' } } } },
      '/readyz': {
        get: {
          summary: 'PostgreSQL and Temporal both answer',
          responses: { 200: { description: 'Ready' }, 503: error('A dependency is down') },
        },
      },
    },
  };
}

export const DOCS_PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>repo-connector API</title></head>
<body>
<script id="api-reference" data-url="/openapi.json"></script>
<script src="https://cdn.jsdelivr.net/npm/@scalar/api-reference@1"></script>
</body>
</html>`;
