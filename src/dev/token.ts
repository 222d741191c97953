import { sign } from 'hono/jwt';
import { ensureDevJwtSecret } from './secrets.js';
import { loadConfigOrExit } from '../config/env.js';

/**
 * `npm run token -- <sub> [ttl seconds]`: prints an HS256 bearer token for local use, signed with
 * JWT_SECRET or, when that is unset, the secret `npm start` generated into the data folder.
 */
const [sub, ttlArg] = process.argv.slice(2);
if (!sub || !/^[A-Za-z0-9._@-]{1,200}$/.test(sub)) {
  process.stderr.write('usage: npm run token -- <user id> [ttl seconds, default 3600]\n');
  process.exit(64);
}
const ttl = ttlArg ? Number(ttlArg) : 3600;
if (!Number.isInteger(ttl) || ttl <= 0) {
  process.stderr.write('ttl must be a positive whole number of seconds\n');
  process.exit(64);
}
const config = loadConfigOrExit();
const secret = config.JWT_SECRET ?? (await ensureDevJwtSecret(config.DATA_DIR));
const now = Math.floor(Date.now() / 1000);
process.stdout.write(`${await sign({ sub, iat: now, exp: now + ttl }, secret, 'HS256')}\n`);
