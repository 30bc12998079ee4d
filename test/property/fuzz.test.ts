import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { judge, loadRegressions, showInput, type AnyTarget } from '../fuzz/harness.ts';
import { TARGETS } from '../fuzz/targets/index.ts';

/**
 * Every fuzz target briefly (npm run fuzz runs them 10,000 times each), and every saved
 * regression case. The one oracle of test/fuzz/harness.ts: a valid model or a coded SignetError,
 * never another exception, a partial model, a pass over mutated signed bytes, or a hang. The only
 * time limit is a generous hang guard per input; the slowest input per target is only reported.
 */
const RUNS = Number(process.env.FUZZ_BRIEF_RUNS ?? 200);
const HANG_MS = 15_000;
const regressions = loadRegressions();

describe.each(TARGETS.map((t) => ({ name: t.name, target: t })))(
  'fuzz target $name',
  ({ target }: { target: AnyTarget }) => {
    let ctx: unknown;
    beforeAll(async () => {
      ctx = await target.setup();
    }, 60_000);
    afterAll(async () => target.teardown?.(ctx));

    it('holds the oracle over generated and mutated inputs', async () => {
      let slowest = 0;
      await fc.assert(
        fc.asyncProperty(target.arbitrary(ctx), async (input) => {
          const j = await judge(target, ctx, input, HANG_MS);
          slowest = Math.max(slowest, j.ms);
          if (j.failure) throw new Error(`${j.failure}\ninput: ${showInput(input)}`);
        }),
        { numRuns: Math.max(20, Math.round(RUNS / (target.weight ?? 1))) }
      );
      console.log(`fuzz ${target.name}: slowest ${slowest.toFixed(1)} ms`);
    }, 120_000);

    const saved = regressions.get(target.name) ?? [];
    if (saved.length)
      it.each(saved.map((s) => ({ file: s.file.split('/').slice(-2).join('/'), input: s.input })))(
        'regression $file',
        async ({ input }) => {
          const j = await judge(target, ctx, input, HANG_MS);
          expect(j.failure).toBeUndefined();
        },
        60_000
      );
  }
);

describe('fuzz regression cases', () => {
  it('every saved case names a known target', () => {
    const names = new Set(TARGETS.map((t) => t.name));
    expect([...regressions.keys()].filter((n) => !names.has(n))).toEqual([]);
  });
});
