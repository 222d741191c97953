import { z } from 'zod';

const uuid = z.string().uuid();

/**
 * https URLs only (http for loopback hosts when GIT_ALLOW_LOOPBACK=true); no credentials,
 * query or fragment, so nothing secret can ride in the URL and git sees a plain address.
 */
export function gitUrlSchema(allowLoopback: boolean) {
  return z
    .string()
    .min(1)
    .max(2048)
    .refine((value) => {
      if (/[\s\u0000-\u001f\u007f]/.test(value)) return false;
      let url: URL;
      try {
        url = new URL(value);
      } catch {
        return false;
      }
      if (url.username || url.password || url.search || url.hash || url.pathname.length <= 1) return false;
      if (url.protocol === 'https:') return true;
      const loopback = url.hostname === '127.0.0.1' || url.hostname === 'localhost' || url.hostname === '[::1]';
      return allowLoopback && url.protocol === 'http:' && loopback;
    }, 'Invalid Git repository URL format');
}

export const accessTokenSchema = z
  .string()
  .trim()
  .min(10, 'Access token appears to be invalid')
  .max(1024)
  .regex(/^[\x21-\x7e]+$/, 'Access token must be printable characters without spaces');

export function connectRequestSchema(allowLoopback: boolean) {
  return z.strictObject({
    git_url: gitUrlSchema(allowLoopback),
    access_token: accessTokenSchema,
    project_id: uuid,
    request_id: uuid.optional(),
  });
}

export const createProjectSchema = z.strictObject({ name: z.string().trim().min(1).max(200) });

export const repoParamsSchema = z.object({ repo_id: uuid });
export const projectParamsSchema = z.object({ project_id: uuid });
