import proto from '@temporalio/proto';
import { CLONE_STATUS, PROJECT_ID, REPO_ID } from '../shared/search-attributes.js';
import { StartupError } from './startup-error.js';

/** The two calls used here of a connection's `operatorService` (client or native). */
export interface Operator {
  listSearchAttributes(request: { namespace: string }): Promise<{ customAttributes?: Record<string, number> | null }>;
  addSearchAttributes(request: { namespace: string; searchAttributes: Record<string, number> }): Promise<unknown>;
}

const { IndexedValueType } = proto.temporal.api.enums.v1;
const REQUIRED = [PROJECT_ID, REPO_ID, CLONE_STATUS].map((k) => k.name);

/** `addSearchAttributes`' argument registering `names` (all ours, when omitted) as Keyword. */
export const asKeywords = (names: string[] = REQUIRED) =>
  Object.fromEntries(names.map((name) => [name, IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD]));

export interface SearchAttributeCheck {
  missing: string[];
  /** Registered, but not as Keyword: a run setting them fails just like a missing one. */
  wrongType: Array<{ name: string; type: string }>;
}

/** `INDEXED_VALUE_TYPE_KEYWORD_LIST` → `KeywordList`, as the CLI spells types. */
const typeName = (type: number): string =>
  ((IndexedValueType as unknown as Record<number, string | undefined>)[type] ?? String(type))
    .replace('INDEXED_VALUE_TYPE_', '')
    .toLowerCase()
    .replace(/(?:^|_)(\w)/g, (_, c: string) => c.toUpperCase());

/** Which of our search attributes `namespace` lacks or has with the wrong type. */
export async function checkSearchAttributes(operator: Operator, namespace: string): Promise<SearchAttributeCheck> {
  const { customAttributes } = await operator.listSearchAttributes({ namespace });
  const registered = customAttributes ?? {};
  return {
    missing: REQUIRED.filter((name) => registered[name] === undefined),
    wrongType: REQUIRED.filter(
      (name) =>
        registered[name] !== undefined && registered[name] !== (IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD as number),
    ).map((name) => ({ name, type: typeName(registered[name]!) })),
  };
}

const reason = (err: unknown) => (err as Error).message ?? String(err);

const createCommand = (namespace: string, names: string[]) =>
  `temporal operator search-attribute create --namespace ${namespace} ${names.map((n) => `--name ${n}`).join(' ')} --type Keyword`;

/**
 * Makes sure `namespace` has our search attributes, registering the missing ones. Without them
 * every connect would fail at its first upsert, so a worker that cannot get them refuses to start.
 * Returns the names it registered.
 */
export async function ensureSearchAttributes(operator: Operator, namespace: string): Promise<string[]> {
  const found = await checkSearchAttributes(operator, namespace).catch((err: unknown) => {
    throw new StartupError(
      `could not list the search attributes of Temporal namespace ${namespace} (${reason(err)}); the worker needs ${REQUIRED.join(', ')} (Keyword) registered there`,
    );
  });
  if (found.wrongType.length > 0) {
    const listed = found.wrongType.map((w) => `${w.name} is ${w.type}`).join(', ');
    const remove = found.wrongType.map((w) => `--name ${w.name}`).join(' ');
    throw new StartupError(
      `search attributes in Temporal namespace ${namespace} must be Keyword but ${listed}: remove them (temporal operator search-attribute remove --namespace ${namespace} ${remove}) and start the worker again`,
    );
  }
  if (found.missing.length === 0) return [];
  try {
    await operator.addSearchAttributes({
      namespace,
      searchAttributes: asKeywords(found.missing),
    });
  } catch (err) {
    // Another worker starting at the same moment may have registered them first.
    const after = await checkSearchAttributes(operator, namespace).catch(() => found);
    if (after.missing.length === 0) return ensureSearchAttributes(operator, namespace);
    throw new StartupError(
      `search attributes ${after.missing.join(', ')} are missing in Temporal namespace ${namespace} and the worker may not register them (${reason(err)}); register them with: ${createCommand(namespace, after.missing)}`,
    );
  }
  return found.missing;
}
