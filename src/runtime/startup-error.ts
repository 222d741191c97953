/**
 * A start-up failure the user can act on: its message says what failed and what to do, in one
 * sentence, and is printed as it is (no stack trace).
 */
export class StartupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StartupError';
  }
}
