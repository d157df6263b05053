// One error type for everything the user can act on: a stable code, what went wrong, and how to fix it.
// The CLI prints `CODE: message — remedy` and maps `exit` to the process exit code.

export const EXIT = {
  OK: 0,
  RUN_FAILED: 1,
  BAD_INPUT: 2,
  INTERRUPTED: 130,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export class WattbenchError extends Error {
  readonly code: string;
  readonly remedy: string;
  readonly exit: ExitCode;
  constructor(code: string, message: string, remedy = '', exit: ExitCode = EXIT.BAD_INPUT) {
    super(message);
    this.name = 'WattbenchError';
    this.code = code;
    this.remedy = remedy;
    this.exit = exit;
  }
  /** The one-line form shown to users. */
  describe(): string {
    return `${this.code}: ${this.message}${this.remedy ? ` — ${this.remedy}` : ''}`;
  }
}

export function badInput(code: string, message: string, remedy = ''): WattbenchError {
  return new WattbenchError(code, message, remedy, EXIT.BAD_INPUT);
}

export function errorMessage(err: unknown): string {
  if (err instanceof WattbenchError) return err.describe();
  if (err instanceof Error) return err.message;
  return String(err);
}
