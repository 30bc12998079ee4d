import { SignetError } from '../util/index.ts';

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

export function parseOutputFormat(value: string, allowed: OutputFormat[]): OutputFormat {
  if (!(allowed as string[]).includes(value)) {
    throw new SignetError('USAGE', `unknown output format ${JSON.stringify(value)}; choose one of ${allowed.join(', ')}`, { kind: 'usage' });
  }
  return value as OutputFormat;
}
