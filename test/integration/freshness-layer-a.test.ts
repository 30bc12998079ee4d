import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { openTarget } from '../../src/store/index.ts';
import { type Served } from '../helpers/serve.ts';
import { layerA, type LayerA } from '../helpers/layer-a.ts';

// Issue 10, Layer A: name binding and sequence inside every Notary signature Signet makes, and a
// per-client high-water mark. Each attack fails closed (exit 1, the check named) against signet
// serve, Debian's docker-registry (tag-schema referrers) and an OCI layout.
describe('Layer A freshness: name swap, tag rollback, mirrors, compat', () => {
  let t: LayerA;
  let work: string;
  let serve: Served;
  let dist: LayerA['dist'];
  beforeAll(async () => {
    t = await layerA('signet-layer-a-');
    ({ work, serve, dist } = t);
  }, 60_000);
  afterAll(async () => t?.close());
  const policy: LayerA['policy'] = (...a) => t.policy(...a);
  const home: LayerA['home'] = () => t.home();
  const lib: LayerA['lib'] = (...a) => t.lib(...a);
  const cli: LayerA['cli'] = (...a) => t.cli(...a);
  const checkOf: LayerA['checkOf'] = (...a) => t.checkOf(...a);
  const signAs: LayerA['signAs'] = (...a) => t.signAs(...a);
  const push: LayerA['push'] = (...a) => t.push(...a);
  const copyTag: LayerA['copyTag'] = (...a) => t.copyTag(...a);
  async function retag(base: string, tag: string, digest: string): Promise<void> {
    const { target } = await openTarget(`${base}@${digest}`, { create: true });
    try {
      await target.tag(await target.resolve(digest), tag);
    } finally {
      await target.close();
    }
  }

  // Where each store puts a logical name: a repository, or a layout directory bound with --name.
  const kinds = [
    { kind: 'signet serve', base: (repo: string) => `${serve.host}/${repo}`, layout: false },
    { kind: 'docker-registry (tag schema)', base: (repo: string) => `${dist.host}/${repo}`, layout: false },
    { kind: 'OCI layout', base: (repo: string) => `oci:${join(work, 'layouts', repo)}`, layout: true },
  ];

  describe.each(kinds)('$kind', ({ kind, base, layout }) => {
    const nameOf = (repo: string) => (layout ? { name: repo } : {});

    it('name swap: a signed acme/tools:1 digest pushed and verified as acme/app:1 fails name-binding (exit 1)', async () => {
      const tools = base('acme/tools');
      const app = base('acme/app');
      await push(tools, '1', `tools release 1 (${kind})`);
      const [signed] = await signAs(`${tools}:1`, nameOf('acme/tools'));
      expect(signed!.binding).toMatchObject({ name: 'acme/tools', tag: '1' });
      await copyTag(tools, app, '1');
      const p = await policy();
      expect((await lib(`${tools}:1`, p, nameOf('acme/tools'))).verdict).toBe('verified');
      const swapped = await lib(`${app}:1`, p, nameOf('acme/app'));
      expect(swapped.verdict).toBe('failed');
      expect(checkOf(swapped, 'name-binding')).toMatchObject({
        outcome: 'fail',
        reason: expect.stringMatching(/signed for the name acme\/tools, not acme\/app/),
      });
      const r = await cli(`${app}:1`, p, home(), ...(layout ? ['--name', 'acme/app'] : []));
      expect(r.code, r.stdout + r.stderr).toBe(1);
      expect(r.stdout).toMatch(/name-binding check failed: signed for the name acme\/tools, not acme\/app/);
    });

    it('tag rollback: a stateful client refuses a tag moved back to an older validly signed digest', async () => {
      const rb = base('acme/rollback');
      const h = home();
      const p = await policy();
      const old = await push(rb, 'stable', `old release (${kind})`);
      const [s1] = await signAs(`${rb}:stable`, nameOf('acme/rollback'));
      const first = await lib(`${rb}:stable`, p, { home: h, ...nameOf('acme/rollback') });
      expect(first.verdict, JSON.stringify(first.requirements)).toBe('verified');
      expect(checkOf(first, 'rollback')).toMatchObject({ outcome: 'pass' });
      await push(rb, 'stable', `new release (${kind})`);
      const [s2] = await signAs(`${rb}:stable`, nameOf('acme/rollback'));
      expect(s2!.binding!.seq!).toBeGreaterThan(s1!.binding!.seq!);
      expect((await lib(`${rb}:stable`, p, { home: h, ...nameOf('acme/rollback') })).verdict).toBe('verified');
      await retag(rb, 'stable', old.digest);
      const nameFlag = layout ? ['--name', 'acme/rollback'] : [];
      const refused = await cli(`${rb}:stable`, p, h, ...nameFlag);
      expect(refused.code, refused.stdout + refused.stderr).toBe(1);
      expect(refused.stdout).toMatch(
        new RegExp(`rollback check failed: acme/rollback:stable the tag went backwards: seq ${s1!.binding!.seq}`)
      );
      if (kind === 'signet serve') {
        const allowed = await cli(`${rb}:stable`, p, h, ...nameFlag, '--allow-downgrade');
        expect(allowed.code, allowed.stdout + allowed.stderr).toBe(0);
        expect(allowed.stdout).toMatch(/rollback.*--allow-downgrade/);
      }
      const allowed = await lib(`${rb}:stable`, p, { home: h, allowDowngrade: true, ...nameOf('acme/rollback') });
      expect(allowed.verdict).toBe('verified');
      expect(checkOf(allowed, 'rollback')).toMatchObject({ outcome: 'logged' });
      // the override did not lower the mark: without it the old digest is still refused
      expect(
        (await lib(`${rb}:stable`, p, { home: h, ...(nameFlag.length ? { name: 'acme/rollback' } : {}) })).verdict
      ).toBe('failed');
      // what Layer A does not do: a client with no state accepts the old release (Layer B's job)
      expect((await lib(`${rb}:stable`, p, nameOf('acme/rollback'))).verdict).toBe('verified');
    });

    it('compat verifies an unbound signature with a logged check; strict refuses it; a wrong binding fails both', async () => {
      const c = base('acme/compat');
      await push(c, '1', `compat release (${kind})`);
      await signAs(`${c}:1`, { noNameBinding: true });
      const strict = await lib(`${c}:1`, await policy(), nameOf('acme/compat'));
      expect(strict.verdict).toBe('failed');
      expect(checkOf(strict, 'name-binding')?.reason).toMatch(/carries no name binding/);
      const compat = await lib(`${c}:1`, await policy({ nameBinding: 'compat' }), nameOf('acme/compat'));
      expect(compat.verdict).toBe('verified');
      expect(checkOf(compat, 'name-binding')).toMatchObject({
        outcome: 'logged',
        reason: expect.stringMatching(/carries no name binding .*: accepted with no rollback protection/),
      });
      expect(checkOf(compat, 'rollback')).toMatchObject({ outcome: 'logged' });
      // compat accepts a missing binding, never a binding to another name
      await push(c, '2', `compat bound release (${kind})`);
      await signAs(`${c}:2`, nameOf('acme/compat'));
      const wrong = await lib(`${c}:2`, await policy({ nameBinding: 'compat' }), { name: 'acme/other' });
      expect(wrong.verdict).toBe('failed');
      expect(checkOf(wrong, 'name-binding')).toMatchObject({ outcome: 'fail' });
    });
  });
});
