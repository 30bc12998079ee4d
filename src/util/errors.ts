/**
 * The one error base of Signet. Every error carries a stable string `code` and a `kind` that
 * decides the CLI exit code: `usage` (2), `failed` (1: verification failed), anything else (3).
 */
export type ErrorKind = 'usage' | 'failed' | 'inconclusive' | 'input' | 'notfound' | 'io';

export class SignetError extends Error {
  readonly code: string;
  readonly kind: ErrorKind;
  readonly detail?: unknown;

  constructor(code: string, message: string, options: { kind?: ErrorKind; cause?: unknown; detail?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SignetError';
    this.code = code;
    this.kind = options.kind ?? 'input';
    if (options.detail !== undefined) this.detail = options.detail;
  }
}

/** True when `err` is a SignetError with the given code. */
export function hasCode(err: unknown, code: string): err is SignetError {
  return err instanceof SignetError && err.code === code;
}

/** The process exit code for an error, per DESIGN §3. */
export function exitCodeFor(err: unknown): number {
  if (err instanceof SignetError) {
    if (err.kind === 'usage') return 2;
    if (err.kind === 'failed') return 1;
  }
  return 3;
}
