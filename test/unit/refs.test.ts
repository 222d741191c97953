import { describe, expect, it } from 'vitest';
import { connectRequestSchema } from '../../src/api/schemas.js';
import { REF_NAME_PATTERN } from '../../src/shared/ref-name.js';
import { parseLsRemote, resolveRef } from '../../src/git/remote-refs.js';
import { RepoError } from '../../src/shared/errors.js';
import { standInApp } from '../support/stand-in-app.js';

const schema = connectRequestSchema(
  { allowLoopback: false, allowedPorts: [443] },
  { minSeconds: 60, maxSeconds: 86400 },
);
const request = (ref: unknown) => ({
  git_url: 'https://github.com/octo/repo.git',
  access_token: 'ghp_0123456789abcdef',
  project_id: '8b9c3c2e-4c1f-4a7e-9d1e-0c5d7b2a1f00',
  ref,
});

describe('the ref a connect may name', () => {
  it.each(['main', 'feature/x', 'release-1.2', 'v1.0.0', 'user@host', 'a.b/c_d+e', 'x'.repeat(255)])(
    'accepts %j',
    (ref) => {
      expect(schema.safeParse(request(ref)).success).toBe(true);
    },
  );

  it.each([
    ['an option', '--upload-pack=x'],
    ['a leading dash', '-x'],
    ['two dots', 'a..b'],
    ['a space', 'a b'],
    ['a newline', 'a\nb'],
    ['a NUL', 'a\0b'],
    ['DEL', 'a\x7fb'],
    ['@{', 'main@{1}'],
    ['@ alone', '@'],
    ['a trailing .lock', 'x.lock'],
    ['a component ending .lock', 'a.lock/b'],
    ['a leading slash', '/main'],
    ['a trailing slash', 'main/'],
    ['a double slash', 'a//b'],
    ['a component starting with a dot', 'a/.b'],
    ['a trailing dot', 'main.'],
    ['forbidden characters', 'a~1'],
    ['a caret', 'a^'],
    ['a colon', 'a:b'],
    ['a glob', 'a*'],
    ['a backslash', 'a\\b'],
    ['non-ASCII', 'zweig-ä'],
    ['too long', 'x'.repeat(256)],
    ['empty', ''],
    ['not a string', 7],
  ])('refuses %s (422 on the ref)', (_why, ref) => {
    const parsed = schema.safeParse(request(ref));
    expect(parsed.success).toBe(false);
    expect(parsed.error!.issues.map((i) => i.path.join('.'))).toEqual(['ref']);
  });

  it('is documented with the very pattern the API checks', async () => {
    const doc = (await (await standInApp().request('/openapi.json')).json()) as any;
    const connect = doc.paths['/api/v1/code/connect'].post;
    const ref = connect.requestBody.content['application/json'].schema.properties.ref;
    expect(ref.pattern).toBe(REF_NAME_PATTERN.source);
    expect(ref.maxLength).toBe(255);
    expect(connect.responses['404'].description).toContain('ref_not_found');
    const repo = doc.paths['/api/v1/code/repos/{repo_id}'].get.responses['200'].content['application/json'].schema;
    expect(Object.keys(repo.properties)).toEqual(expect.arrayContaining(['ref', 'head_commit', 'synced_at']));
  });
});

describe('resolving a ref against ls-remote', () => {
  const listing = [
    'ref: refs/heads/trunk\tHEAD',
    `${'a'.repeat(40)}\tHEAD`,
    `${'a'.repeat(40)}\trefs/heads/trunk`,
    `${'b'.repeat(40)}\trefs/heads/both`,
    `${'c'.repeat(40)}\trefs/tags/both`,
    `${'d'.repeat(40)}\trefs/tags/v1`,
    `${'e'.repeat(40)}\trefs/tags/v1^{}`,
    '',
  ].join('\n');
  const refs = parseLsRemote(listing);

  it('counts the refs (HEAD included, the symref line not) and reads the default branch', () => {
    expect(refs.count).toBe(6);
    expect(refs.defaultBranch).toBe('trunk');
  });

  it('takes the default branch when none is asked for, a branch before a tag of the same name, then a tag', () => {
    expect(resolveRef(refs, undefined)).toEqual({ name: 'trunk', kind: 'branch' });
    expect(resolveRef(refs, 'both')).toEqual({ name: 'both', kind: 'branch' });
    expect(resolveRef(refs, 'v1')).toEqual({ name: 'v1', kind: 'tag' });
  });

  it('refuses a name that is neither as ref_not_found', () => {
    expect(() => resolveRef(refs, 'nope')).toThrow(RepoError);
    expect(() => resolveRef(refs, 'nope')).toThrow(expect.objectContaining({ code: 'ref_not_found' }));
    expect(() => resolveRef(refs, 'refs/heads/trunk')).toThrow(expect.objectContaining({ code: 'ref_not_found' }));
  });

  it('has no default for an empty repository or a detached HEAD', () => {
    expect(resolveRef(parseLsRemote(''), undefined)).toBeUndefined();
    expect(
      resolveRef(parseLsRemote(`${'a'.repeat(40)}\tHEAD\n${'a'.repeat(40)}\trefs/heads/x\n`), undefined),
    ).toBeUndefined();
  });
});
