import type { TestStack } from '../test/support/stack.js';
import type { AdmissionBreakdown } from './breakdown.js';
import type { ApiClient } from './client.js';
import type { RawGit } from './raw-git.js';
import type { BenchRepos } from './repos.js';
import type { Services } from './services.js';

/** One row of the table, as printed and as written to the JSON file. */
export interface Row {
  id: string;
  what: string;
  measured: string;
  floor: string;
  /** Measured against its floor (a factor, or a difference where the goal is one). */
  ratio: string;
  goal: string;
  /** Undefined where the row has no goal to meet. */
  met: boolean | undefined;
  /** The numbers behind the row, for the JSON file. */
  data: Record<string, unknown>;
}

export interface BenchContext {
  runs: number;
  stack: TestStack;
  services: Services;
  api: ApiClient;
  raw: RawGit;
  repos: BenchRepos;
  /** The Git server URL of a bench repository, under an optional behaviour prefix (`/count/<key>`, `/slow/<bps>`). */
  url(name: string, prefix?: string): string;
  /** Bytes the Git server has sent under `/count/<key>`. */
  bytesSent(key: string): Promise<number>;
  limitMb: number;
  /** RSS of the API and the worker right after they started, before any connect (B8 compares). */
  rssAtStart: { api: number; worker: number };
  /** Connects made so far whose workflows stay open (completed clones wait for their TTL). */
  openWorkflows: number;
  /** Rows measured so far in this run, by id (B9 compares with B1). */
  results: Map<string, Row>;
  /** Workflows Temporal's visibility counts for `query` (after letting it catch up). */
  countWorkflows(query: string): Promise<number>;
  /** Where a connect's time went until its admission (or its clone) completed, read from its workflow's history. */
  breakdown(workflowId: string, through?: 'admission' | 'clone'): Promise<AdmissionBreakdown>;
  /** CPU seconds each part of the system spends while `work` runs, with its result. */
  cpu<T>(work: () => Promise<T>): Promise<{ value: T; cpuSeconds: Record<string, number> }>;
  /** A project of its own for a row's connects. */
  project(): Promise<string>;
  /** Every project made so far in this run (B14 reads the repositories the rows before kept). */
  projects: string[];
}

/** A benchmark module: the rows it measures, and how. */
export interface Bench {
  ids: string[];
  run(ctx: BenchContext): Promise<Row[]>;
}
