/** What the global setup started for this run, handed to every integration test through `inject('stack')`. */
export interface TestStack {
  /** A database already migrated to the latest schema. */
  databaseUrl: string;
  /** The server's maintenance database, for tests that need a database of their own. */
  adminUrl: string;
  temporalAddress: string;
  temporalCliPath: string;
  gitUrl: string;
  /** Folder of bare repositories the Git server serves; tests add their own. */
  gitRoot: string;
  /** The only token the Git server accepts. */
  gitToken: string;
  /** A real AWS KMS API (moto) for this run. */
  kmsEndpoint: string;
  /** A scratch folder for this run (sandboxes, logs). */
  workDir: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    stack: TestStack;
  }
}
