import { ensureDevJwtSecret } from './secrets.js';
import { signDevToken } from './sign-token.js';
import { loadConfigOrExit } from '../config/load-config.js';

/**
 * `npm run token -- <sub> [ttl seconds] [--operator]`: prints an HS256 bearer token for local use,
 * signed with JWT_SECRET or, when that is unset, the secret `npm start` generated into the data
 * folder (JWT_ISSUER / JWT_AUDIENCE apply to the identity provider's tokens, not these). `--operator` adds the scope
 * (CODEC_OPERATOR_SCOPE) the codec endpoint asks of an operator.
 */
const args = process.argv.slice(2);
const operator = args.includes('--operator');
const [sub, ttlArg, ...rest] = args.filter((a) => a !== '--operator');
if (!sub || !/^[A-Za-z0-9._@-]{1,200}$/.test(sub) || rest.length > 0) {
  process.stderr.write('usage: npm run token -- <user id> [ttl seconds, default 3600] [--operator]\n');
  process.exit(64);
}
const ttl = ttlArg ? Number(ttlArg) : 3600;
if (!Number.isInteger(ttl) || ttl <= 0) {
  process.stderr.write('ttl must be a positive whole number of seconds\n');
  process.exit(64);
}
const config = loadConfigOrExit();
const secret = config.JWT_SECRET ?? (await ensureDevJwtSecret(config.DATA_DIR));
const token = await signDevToken(secret, {
  sub,
  ttlSeconds: ttl,
  scope: operator ? config.CODEC_OPERATOR_SCOPE : undefined,
});
process.stdout.write(`${token}\n`);
