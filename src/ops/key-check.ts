import type { Client } from '@temporalio/client';
import type { KeyProvider } from '../crypto/envelope.js';
import { PAYLOAD_KEY_ID } from '../crypto/payload-codec.js';
import type { Queryable } from '../db/client.js';
import { keyInServiceSince, storedUnderEachKey } from '../db/encryption-keys.js';

/** What still needs one key. */
export interface KeyUse {
  keyId: string;
  current: boolean;
  /** Whether this deployment's settings hold it (KMS_PREVIOUS_KEY_IDS, PREVIOUS_MASTER_ENCRYPTION_KEYS). */
  configured: boolean;
  /** Stored access tokens whose data key it wraps. */
  tokens: number;
  /** Stored push webhook secrets whose data key it wraps. */
  webhookSecrets: number;
  /** The service's own keys (the request fingerprint key) it wraps. */
  serviceKeys: number;
  /** Open workflow runs with a payload under it in their history: the next replay or step needs it. */
  openWorkflows: Array<{ workflowId: string; runId: string; startTime: Date }>;
}

export interface KeyCheckReport {
  currentKeyId: string;
  currentKeySince?: Date;
  keys: KeyUse[];
  openWorkflowsScanned: number;
  /** Closed runs started before the current key went into service, kept until the namespace's retention ends. */
  closedRunsBeforeCurrentKey?: number;
  retentionDays?: number;
}

/** A key other than the current one that something still needs. */
export const stillNeeded = (use: KeyUse): boolean =>
  !use.current && (storedUnder(use) > 0 || use.openWorkflows.length > 0);
/** What `rotate-keys` moves off the key: stored secrets and service keys. */
const storedUnder = (use: KeyUse): number => use.tokens + use.webhookSecrets + use.serviceKeys;
/** One of this deployment's old keys that must stay configured: what the command's exit code reports. */
export const mustKeep = (use: KeyUse): boolean => use.configured && stillNeeded(use);

/**
 * Every key a payload in `node` (a workflow history, as the SDK decodes it) is wrapped under.
 * Payloads are found by their metadata, so nothing is opened: the key id is plain metadata.
 */
export function payloadKeyIds(node: unknown, found = new Set<string>()): Set<string> {
  if (!node || typeof node !== 'object' || ArrayBuffer.isView(node)) return found;
  const keyId = (node as { metadata?: Record<string, unknown> | null }).metadata?.[PAYLOAD_KEY_ID];
  if (keyId instanceof Uint8Array) found.add(new TextDecoder().decode(keyId));
  for (const value of Object.values(node)) payloadKeyIds(value, found);
  return found;
}

/** Histories read at once: each is one or a few frontend calls. */
const HISTORY_CONCURRENCY = 8;

/**
 * Which keys are still needed, and by what: stored tokens, webhook secrets and service keys (which `rotate-keys`
 * re-wraps), and open workflows (which carry payloads, and sealed tokens inside them, under the
 * key that was current when they were written; only their end releases it).
 */
export async function checkKeys(o: {
  sql: Queryable;
  temporal: Client;
  keys: KeyProvider;
  /** Told after each batch of histories: a busy deployment has a run open per connection for a day. */
  onProgress?: (read: number, of: number) => void;
}): Promise<KeyCheckReport> {
  const { sql, temporal, keys } = o;
  const uses = new Map<string, KeyUse>();
  const use = (keyId: string): KeyUse => {
    let entry = uses.get(keyId);
    if (!entry) {
      entry = {
        keyId,
        current: keyId === keys.keyId,
        configured: keys.canDecrypt(keyId),
        tokens: 0,
        webhookSecrets: 0,
        serviceKeys: 0,
        openWorkflows: [],
      };
      uses.set(keyId, entry);
    }
    return entry;
  };
  for (const keyId of keys.keyIds) use(keyId);
  for (const [keyId, stored] of await storedUnderEachKey(sql)) Object.assign(use(keyId), stored);

  const open: Array<{ workflowId: string; runId: string; startTime: Date }> = [];
  for await (const run of temporal.workflow.list({ query: 'ExecutionStatus = "Running"' })) {
    open.push({ workflowId: run.workflowId, runId: run.runId, startTime: run.startTime });
  }
  for (let i = 0; i < open.length; i += HISTORY_CONCURRENCY) {
    await Promise.all(
      open.slice(i, i + HISTORY_CONCURRENCY).map(async (run) => {
        const history = await temporal.workflow.getHandle(run.workflowId, run.runId).fetchHistory();
        for (const keyId of payloadKeyIds(history)) use(keyId).openWorkflows.push(run);
      }),
    );
    o.onProgress?.(Math.min(i + HISTORY_CONCURRENCY, open.length), open.length);
  }

  const currentKeySince = await keyInServiceSince(sql, keys.keyId);
  const report: KeyCheckReport = {
    currentKeyId: keys.keyId,
    currentKeySince,
    keys: [...uses.values()],
    openWorkflowsScanned: open.length,
  };
  if (currentKeySince) {
    const { count } = await temporal.workflow.count(
      `ExecutionStatus != "Running" AND StartTime < "${currentKeySince.toISOString()}"`,
    );
    report.closedRunsBeforeCurrentKey = count;
  }
  const { config } = await temporal.workflowService.describeNamespace({ namespace: temporal.options.namespace });
  const retention = Number(config?.workflowExecutionRetentionTtl?.seconds ?? 0);
  if (retention > 0) report.retentionDays = retention / 86400;
  return report;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** The report as an operator reads it: one line per key, saying whether it may go and, if not, what holds it. */
export function formatKeyCheck(report: KeyCheckReport): string {
  const lines = [
    `Current key: ${report.currentKeyId}${report.currentKeySince ? ` (in service since ${report.currentKeySince.toISOString()})` : ''}`,
  ];
  lines.push(`Open workflow runs scanned: ${report.openWorkflowsScanned}`);
  for (const key of report.keys) {
    if (key.current) continue;
    const holds = [
      key.tokens > 0 ? plural(key.tokens, 'stored access token') : '',
      key.webhookSecrets > 0 ? plural(key.webhookSecrets, 'stored webhook secret') : '',
      key.serviceKeys > 0 ? plural(key.serviceKeys, 'service key') : '',
      key.openWorkflows.length > 0 ? plural(key.openWorkflows.length, 'open workflow run') : '',
    ].filter(Boolean);
    const origin = key.configured
      ? ''
      : " (not configured here: another deployment's, or a key that was removed too early)";
    if (holds.length === 0) {
      lines.push(`${key.keyId}${origin}: may be removed — no stored token, service key or open workflow uses it`);
      continue;
    }
    lines.push(`${key.keyId}${origin}: KEEP — needed by ${holds.join(', ')}`);
    if (storedUnder(key) > 0)
      lines.push('  run `npm run rotate-keys` to re-wrap the stored ones under the current key');
    if (key.openWorkflows.length > 0) {
      const oldest = key.openWorkflows.reduce((a, b) => (a.startTime <= b.startTime ? a : b));
      lines.push(
        `  open runs carry payloads and sealed tokens under it until they end (oldest: ${oldest.workflowId}, started ${oldest.startTime.toISOString()}); check again after them`,
      );
    }
  }
  if (report.closedRunsBeforeCurrentKey) {
    const retention =
      report.retentionDays === undefined
        ? 'the namespace retention'
        : `the namespace retention (${plural(report.retentionDays, 'day')})`;
    lines.push(
      `${plural(report.closedRunsBeforeCurrentKey, 'closed run')} started before the current key: the Web UI stops decoding them once their key is removed; they are deleted after ${retention}`,
    );
  }
  const needed = report.keys.filter(mustKeep).length;
  lines.push(
    needed === 0
      ? 'Every configured key but the current one may be removed (restart every API and worker process on the current key first).'
      : `${plural(needed, 'configured old key')} still needed: keep ${needed === 1 ? 'it' : 'them'}.`,
  );
  return lines.join('\n');
}
