import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * The embedded default's JWT secret: generated once into the data folder (mode 0600), shared by
 * `npm start` and `npm run token`. Production sets JWT_SECRET (or JWKS_URL) instead.
 */
export const devJwtSecretFile = (dataDir: string): string => path.join(dataDir, 'jwt.secret');

export async function ensureDevJwtSecret(dataDir: string): Promise<string> {
  const file = devJwtSecretFile(dataDir);
  if (!existsSync(file)) {
    await mkdir(dataDir, { recursive: true });
    await writeFile(file, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' }).catch(
      (err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST') throw err;
      },
    );
  }
  return (await readFile(file, 'utf8')).trim();
}
