import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** A secret of the embedded default, generated once into the data folder (mode 0600) and read back by every later start. */
async function ensureDevSecret(dataDir: string, name: string): Promise<string> {
  const file = path.join(dataDir, name);
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

/** The JWT secret `npm start` and `npm run token` share; production sets JWT_SECRET (or JWKS_URL) instead. */
export const ensureDevJwtSecret = (dataDir: string): Promise<string> => ensureDevSecret(dataDir, 'jwt.secret');

/** The key `npm start`'s API signs its reads of the worker's clones with; production sets READ_SERVICE_SECRET. */
export const ensureDevReadServiceSecret = (dataDir: string): Promise<string> =>
  ensureDevSecret(dataDir, 'read-service.secret');
