import { SignetError } from '../index.ts';

/** Prints an error for a person: its message, and its code when it has one. Never a stack unless SIGNET_DEBUG. */
export function printError(err: unknown): void {
  if (err instanceof SignetError) {
    process.stderr.write(`Error: ${err.message} [${err.code}]\n`);
  } else if (err instanceof Error) {
    process.stderr.write(`Error: ${err.message}\n`);
  } else {
    process.stderr.write(`Error: ${String(err)}\n`);
  }
  if (process.env.SIGNET_DEBUG && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
}

/** Writes a JSON document to stdout (the stable `-o json` form). */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** The output format option shared by commands. */
export type OutputFormat = 'text' | 'json' | 'tree';

/**
 * The value of a command's -o/--output: one of the formats the command documents, else a usage
 * error (exit 2) naming them. Every command with a format option checks it before any work.
 */
export function parseOutputFormat(value: string, allowed: readonly OutputFormat[]): OutputFormat {
  if (!(allowed as string[]).includes(value)) {
    const message = `unknown output format ${JSON.stringify(value)}; choose one of ${allowed.join(', ')}`;
    throw new SignetError('USAGE', message);
  }
  return value as OutputFormat;
}
