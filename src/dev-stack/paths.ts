import { fileURLToPath } from 'node:url';

/** The repository root, whether running from `src/` (tsx) or `dist/` (compiled). */
export const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));
