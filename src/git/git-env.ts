export interface GitEnvironmentOptions {
  token?: string;
  allowHttp: boolean;
  /** `host:port:address` for http.curloptResolve, from pinRemote(). */
  curlResolve?: string;
}

/**
 * The environment every git process runs with. The token travels as an HTTP header set through
 * git's environment-only configuration (GIT_CONFIG_COUNT/KEY/VALUE): never in the URL, never in
 * argv, never written to the clone's .git/config. Nothing from the host's git configuration
 * applies, git never prompts, only https (plus http when loopback is allowed) is spoken, and
 * nothing in the repository can make git run code: no hooks, no fsmonitor, no symlinks, no
 * submodules, and every received object is checked.
 */
export function gitEnvironment(options: GitEnvironmentOptions): Record<string, string> {
  const config: Array<[string, string]> = [
    ['credential.helper', ''],
    ['http.followRedirects', 'false'],
    ['core.hooksPath', '/dev/null'],
    ['core.fsmonitor', 'false'],
    ['core.symlinks', 'false'],
    ['transfer.fsckObjects', 'true'],
    ['submodule.recurse', 'false'],
  ];
  if (options.curlResolve) config.push(['http.curloptResolve', options.curlResolve]);
  if (options.token) {
    // The header value must stay one line: a control character could smuggle in another header.
    if (!/^[\x21-\x7e]+$/.test(options.token)) throw new Error('The access token contains characters git cannot send');
    const basic = Buffer.from(`x-access-token:${options.token}`).toString('base64');
    config.push(['http.extraHeader', `Authorization: Basic ${basic}`]);
  }
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: '/nonexistent',
    LANG: 'C',
    LC_ALL: 'C',
    GIT_TERMINAL_PROMPT: '0',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_ALLOW_PROTOCOL: options.allowHttp ? 'https:http' : 'https',
    GIT_CONFIG_COUNT: String(config.length),
  };
  config.forEach(([key, value], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = key;
    env[`GIT_CONFIG_VALUE_${i}`] = value;
  });
  return env;
}
