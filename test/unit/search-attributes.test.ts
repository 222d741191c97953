import proto from '@temporalio/proto';
import { describe, expect, it } from 'vitest';
import { ensureSearchAttributes } from '../../src/runtime/search-attributes.js';
import { StartupError } from '../../src/runtime/startup-error.js';

const { IndexedValueType } = proto.temporal.api.enums.v1;
const { KEYWORD, TEXT } = {
  KEYWORD: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  TEXT: IndexedValueType.INDEXED_VALUE_TYPE_TEXT,
};

/** A gRPC error as the native connection raises it. */
const grpcError = (code: number, message: string) => Object.assign(new Error(message), { code });

/**
 * A stand-in for the operator service: a server that knows `registered` and answers
 * `addSearchAttributes` with `add` (by default, it registers them).
 */
function fakeOperator(registered: Record<string, number>, add?: () => never) {
  const operator = {
    added: [] as string[],
    async listSearchAttributes() {
      return { customAttributes: { ...registered } };
    },
    async addSearchAttributes({ searchAttributes }: { searchAttributes: Record<string, number> }) {
      add?.();
      for (const [name, type] of Object.entries(searchAttributes)) {
        registered[name] = type;
        operator.added.push(name);
      }
      return {};
    },
  };
  return operator;
}

const refusal = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (err: unknown) => err,
  );

describe('ensureSearchAttributes', () => {
  it('registers only the missing ones, as Keyword', async () => {
    const operator = fakeOperator({ ProjectId: KEYWORD });
    expect(await ensureSearchAttributes(operator, 'ns')).toEqual(['RepoId', 'CloneStatus']);
    expect(operator.added).toEqual(['RepoId', 'CloneStatus']);
  });

  it('does nothing when all are there', async () => {
    const operator = fakeOperator({ ProjectId: KEYWORD, RepoId: KEYWORD, CloneStatus: KEYWORD });
    expect(await ensureSearchAttributes(operator, 'ns')).toEqual([]);
    expect(operator.added).toEqual([]);
  });

  it('refuses in one line naming the missing ones and the command to register them when registering is denied', async () => {
    const operator = fakeOperator({ ProjectId: KEYWORD }, () => {
      throw grpcError(7, '7 PERMISSION_DENIED: Request unauthorized.');
    });
    const err = await refusal(ensureSearchAttributes(operator, 'prod'));
    expect(err).toBeInstanceOf(StartupError);
    const message = (err as Error).message;
    expect(message).not.toContain('\n');
    expect(message).toContain('search attributes RepoId, CloneStatus are missing in Temporal namespace prod');
    expect(message).toContain('PERMISSION_DENIED');
    expect(message).toContain(
      'temporal operator search-attribute create --namespace prod --name RepoId --name CloneStatus --type Keyword',
    );
  });

  it('starts when registering fails because another worker registered them first', async () => {
    const registered: Record<string, number> = {};
    const operator = fakeOperator(registered, () => {
      Object.assign(registered, { ProjectId: KEYWORD, RepoId: KEYWORD, CloneStatus: KEYWORD });
      throw grpcError(6, '6 ALREADY_EXISTS: Search attribute ProjectId already exists.');
    });
    expect(await ensureSearchAttributes(operator, 'ns')).toEqual([]);
  });

  it('refuses in one line when one exists with another type, saying how to fix it', async () => {
    const operator = fakeOperator({ ProjectId: TEXT, RepoId: KEYWORD });
    const err = await refusal(ensureSearchAttributes(operator, 'ns'));
    expect(err).toBeInstanceOf(StartupError);
    expect((err as Error).message).toBe(
      'search attributes in Temporal namespace ns must be Keyword but ProjectId is Text: remove them ' +
        '(temporal operator search-attribute remove --namespace ns --name ProjectId) and start the worker again',
    );
    expect(operator.added).toEqual([]);
  });

  it('refuses in one line when it cannot even list them', async () => {
    const operator = fakeOperator({});
    operator.listSearchAttributes = async () => {
      throw grpcError(16, '16 UNAUTHENTICATED: no credentials');
    };
    const err = await refusal(ensureSearchAttributes(operator, 'ns'));
    expect(err).toBeInstanceOf(StartupError);
    expect((err as Error).message).toMatch(
      /^could not list the search attributes of Temporal namespace ns \(16 UNAUTHENTICATED.*ProjectId, RepoId, CloneStatus \(Keyword\)/,
    );
  });
});
