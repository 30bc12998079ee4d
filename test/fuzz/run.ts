/**
 * `npm run fuzz [-- --runs N] [-- --target NAME[,NAME]] [-- --seed S] [-- --limit MS]`: runs every
 * fuzz target for N iterations (default 10,000) under the one oracle of harness.ts, printing
 *   fuzz TARGET: N runs, F failures, slowest X ms
 * per target and last `fuzz: T targets, N runs, F failures`. A failure prints the shrunk input and
 * is saved under test/fixtures/fuzz/<target>/ as a regression case (replayed by npm test).
 * Exit code 1 when anything failed.
 */
import fc from 'fast-check';
import { judge, saveRegression, showInput, type AnyTarget } from './harness.ts';
import { TARGETS } from './targets/index.ts';

function args(argv: string[]): { runs: number; targets: string[] | null; seed: number; limitMs: number } {
  let runs = 10_000;
  let targets: string[] | null = null;
  let seed = Date.now() % 2 ** 31;
  let limitMs = 10_000;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a.startsWith('--runs')) runs = Number(value());
    else if (a.startsWith('--target')) targets = value().split(',');
    else if (a.startsWith('--seed')) seed = Number(value());
    else if (a.startsWith('--limit')) limitMs = Number(value());
    else throw new Error(`unknown argument ${a} (--runs N, --target NAME, --seed S, --limit MS)`);
  }
  if (!Number.isSafeInteger(runs) || runs < 1) throw new Error('--runs must be a positive integer');
  return { runs, targets, seed, limitMs };
}

async function fuzzOne(
  target: AnyTarget,
  runs: number,
  seed: number,
  limitMs: number
): Promise<{ runs: number; failures: number; slowest: number; slowestInput?: Uint8Array }> {
  const ctx: unknown = await target.setup();
  let count = 0;
  let slowest = 0;
  let slowestInput: Uint8Array | undefined;
  try {
    const result = await fc.check(
      fc.asyncProperty(target.arbitrary(ctx), async (input) => {
        count++;
        const j = await judge(target, ctx, input, limitMs);
        if (j.ms > slowest) {
          slowest = j.ms;
          slowestInput = input;
        }
        if (j.failure) throw new Error(j.failure);
      }),
      { numRuns: runs, seed, endOnFailure: false, interruptAfterTimeLimit: undefined }
    );
    if (!result.failed) return { runs: count, failures: 0, slowest, ...(slowestInput ? { slowestInput } : {}) };
    const input = result.counterexample?.[0] as Uint8Array | undefined;
    const why = result.errorInstance instanceof Error ? result.errorInstance.message : String(result.errorInstance);
    process.stdout.write(
      `\nfuzz ${target.name}: FAILURE (seed ${seed}, path ${result.counterexamplePath ?? '?'})\n  ${why.split('\n').join('\n  ')}\n`
    );
    if (input) {
      process.stdout.write(`  shrunk input: ${showInput(input)}\n`);
      process.stdout.write(`  saved as ${saveRegression(target.name, input, why)}\n`);
    }
    return { runs: count, failures: 1, slowest, ...(slowestInput ? { slowestInput } : {}) };
  } finally {
    await target.teardown?.(ctx);
  }
}

async function main(): Promise<void> {
  const { runs, targets, seed, limitMs } = args(process.argv.slice(2));
  const chosen = targets ? TARGETS.filter((t) => targets.includes(t.name)) : TARGETS;
  if (targets && chosen.length !== targets.length) {
    const known = TARGETS.map((t) => t.name).join(', ');
    throw new Error(`unknown target in ${targets.join(',')} (targets: ${known})`);
  }
  process.stdout.write(`fuzz: seed ${seed}, ${runs} runs per target, per-input limit ${limitMs} ms\n`);
  let total = 0;
  let failures = 0;
  for (const t of chosen) {
    const r = await fuzzOne(t, runs, seed, limitMs);
    total += r.runs;
    failures += r.failures;
    process.stdout.write(
      `fuzz ${t.name}: ${r.runs} runs, ${r.failures} failures, slowest ${r.slowest.toFixed(1)} ms\n`
    );
    if (process.env.FUZZ_SHOW_SLOWEST && r.slowestInput)
      process.stdout.write(`  slowest input: ${showInput(r.slowestInput)}\n`);
  }
  process.stdout.write(`fuzz: ${chosen.length} targets, ${total} runs, ${failures} failures\n`);
  process.exitCode = failures ? 1 : 0;
}

main().catch((err: unknown) => {
  process.stderr.write(`fuzz: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 2;
});
