/**
 * The fuzz harness: one oracle for every parser Signet exposes to hostile input.
 *
 * A target turns bytes into a parse (or a verification) and checks the model it gets back. The
 * oracle: the input parses into a valid model, or it is refused with a coded SignetError (a code
 * of the one catalog in src/util/errors.ts). Anything else fails: another exception (TypeError,
 * RangeError, a library's own error leaking through), a partial model (the target's own checks
 * throw OracleViolation), a verification that passes over a mutation of the signed bytes
 * (OracleViolation), or an input that runs past the per-input limit (a hang).
 *
 * Inputs are always bytes, so that every failure can be saved and replayed as a regression case.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import fc from 'fast-check';
import { ERROR_CATALOG, SignetError } from '../../src/util/index.ts';

export const REPO_ROOT = resolve(import.meta.dirname, '../..');
export const REGRESSION_DIR = join(REPO_ROOT, 'test/fixtures/fuzz');
export const FIXTURES = join(REPO_ROOT, 'test/fixtures');

/** A target broke the oracle in a way that is not an exception of the parser (wrong verdict, partial model). */
export class OracleViolation extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OracleViolation';
  }
}

/** Throws an OracleViolation unless `ok`. */
export function expectModel(ok: unknown, message: string): asserts ok {
  if (!ok) throw new OracleViolation(`partial or invalid model: ${message}`);
}

export interface FuzzTarget<C = unknown> {
  name: string;
  /** What it parses, through which entry point. */
  description: string;
  /** Builds seeds, keys, servers: once per run. */
  setup(): Promise<C>;
  teardown?(ctx: C): Promise<void>;
  /** Structure-aware inputs and mutations of the valid seeds. */
  arbitrary(ctx: C): fc.Arbitrary<Uint8Array>;
  /** Parses / verifies one input; throws OracleViolation on a wrong verdict or a partial model. */
  run(ctx: C, input: Uint8Array): Promise<void> | void;
  /** Relative cost: the brief run (npm test) does `runs / weight` iterations. */
  weight?: number;
}

/** Any target, for lists of targets of different contexts. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyTarget = FuzzTarget<any>;

export function isCodedSignetError(err: unknown): err is SignetError {
  return err instanceof SignetError && Object.hasOwn(ERROR_CATALOG, err.code);
}

export interface Judgement {
  failure?: string;
  ms: number;
}

/**
 * Runs one input under the oracle. `limitMs` is the hang guard: an asynchronous parse still
 * pending after it fails at once; a synchronous one that returns after it fails too.
 */
export async function judge<C>(target: FuzzTarget<C>, ctx: C, input: Uint8Array, limitMs: number): Promise<Judgement> {
  const t0 = performance.now();
  let timer: NodeJS.Timeout | undefined;
  let failure: string | undefined;
  // An 'error' event nobody listens to, or a rejection nobody handles, would kill the process:
  // caught here and blamed on this input (it surfaces within a turn or two of the event loop).
  const uncaught: unknown[] = [];
  const onUncaught = (err: unknown): void => void uncaught.push(err);
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUncaught);
  try {
    await Promise.race([
      Promise.resolve().then(() => target.run(ctx, input)),
      new Promise<never>((_, reject) => {
        // not unref'd: a parse whose promise never settles is a hang to report, not a silent exit
        timer = setTimeout(() => reject(new HangError(limitMs)), limitMs);
      }),
    ]);
  } catch (err) {
    if (err instanceof HangError) failure = err.message;
    else if (err instanceof OracleViolation) failure = err.message;
    else if (!isCodedSignetError(err)) failure = `uncaught ${describeError(err)}`;
  } finally {
    if (timer) clearTimeout(timer);
  }
  const ms = performance.now() - t0;
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  process.off('uncaughtException', onUncaught);
  process.off('unhandledRejection', onUncaught);
  if (uncaught.length) failure ??= `uncaught asynchronous ${describeError(uncaught[0])}`;
  if (!failure && ms > limitMs) failure = `hang: ${ms.toFixed(0)} ms for one input (limit ${limitMs} ms)`;
  return failure ? { failure, ms } : { ms };
}

class HangError extends Error {
  constructor(limitMs: number) {
    super(`hang: no answer within ${limitMs} ms`);
  }
}

function describeError(err: unknown): string {
  if (err instanceof SignetError) return `SignetError with an uncatalogued code ${String(err.code)}: ${err.message}`;
  if (err instanceof Error)
    return `${err.name}: ${err.message}\n${(err.stack ?? '').split('\n').slice(1, 6).join('\n')}`;
  return `non-Error thrown: ${String(err)}`;
}

// --- regression cases ---------------------------------------------------------------------------

export interface RegressionCase {
  target: string;
  /** The input, base64. */
  input: string;
  /** What it did when it was found. */
  found: string;
}

/** Saves a failing input under test/fixtures/fuzz/<target>/<sha256 prefix>.json; returns the path. */
export function saveRegression(target: string, input: Uint8Array, found: string): string {
  const dir = join(REGRESSION_DIR, target);
  mkdirSync(dir, { recursive: true });
  const id = createHash('sha256').update(input).digest('hex').slice(0, 16);
  const file = join(dir, `${id}.json`);
  const c: RegressionCase = { target, input: Buffer.from(input).toString('base64'), found: found.slice(0, 2000) };
  writeFileSync(file, `${JSON.stringify(c, null, 2)}\n`);
  return file;
}

/** Every saved regression case, by target name. */
export function loadRegressions(): Map<string, Array<{ file: string; input: Uint8Array }>> {
  const out = new Map<string, Array<{ file: string; input: Uint8Array }>>();
  let dirs: string[] = [];
  try {
    dirs = readdirSync(REGRESSION_DIR);
  } catch {
    return out;
  }
  for (const d of dirs) {
    let files: string[] = [];
    try {
      files = readdirSync(join(REGRESSION_DIR, d)).filter((f) => f.endsWith('.json'));
    } catch {
      continue;
    }
    for (const f of files) {
      const file = join(REGRESSION_DIR, d, f);
      const c = JSON.parse(readFileSync(file, 'utf8')) as RegressionCase;
      const list = out.get(c.target) ?? [];
      list.push({ file, input: new Uint8Array(Buffer.from(c.input, 'base64')) });
      out.set(c.target, list);
    }
  }
  return out;
}

/** A printable form of an input for a failure report (text when it is text, else base64). */
export function showInput(input: Uint8Array): string {
  const text = Buffer.from(input).toString('utf8');
  const printable = !text.includes('\uFFFD') && /^[\t\n\r\x20-\x7e\u00a0-\uffff]*$/.test(text);
  const body = printable ? JSON.stringify(text) : `base64:${Buffer.from(input).toString('base64')}`;
  return body.length > 1000 ? `${body.slice(0, 1000)}… (${input.length} bytes)` : `${body} (${input.length} bytes)`;
}
