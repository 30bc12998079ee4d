import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { openTarget } from '../../src/store/index.ts';
import { TagState } from '../../src/freshness/index.ts';
import { verify } from '../../src/verify/index.ts';
import { layerB, type LayerA, type LayerB } from '../helpers/layer-a.ts';

// Issue 10, Layer B: TUF metadata as one OCI artifact, `signet tuf …`, and the `freshness` check
// of a statement pinning the TUF root. Every attack fails closed with the check named.
describe('Layer B freshness: stateless rollback, withdrawn release, freeze', () => {
  let b: LayerB;
  let t: LayerA;
  beforeAll(async () => {
    b = await layerB('signet-tuf-b-');
    t = b.t;
  }, 60_000);
  afterAll(async () => b?.close());
  const tuf: LayerB['tuf'] = (...a) => b.tuf(...a);
  const init: LayerB['init'] = (...a) => b.init(...a);
  const policyFor: LayerB['policyFor'] = (...a) => b.policyFor(...a);
  const libVerify = (ref: string, p: string, o: { now?: Date; name?: string } = {}) =>
    verify(ref, {
      sources: { trustPolicy: p, trustStore: t.store, defaults: false },
      tagState: new TagState(join(t.home(), 'tags')),
      ...(o.now ? { now: o.now } : {}),
      ...(o.name ? { name: o.name } : {}),
    });

  it('tag rollback with no client state: the TUF target names the new digest, the old validly signed one fails freshness (exit 1)', async () => {
    const tufRef = `${t.serve.host}/acme/tuf-metadata:latest`;
    const root = await init(tufRef);
    const rb = `${t.serve.host}/acme/rb`;
    const old = await t.push(rb, 'stable', 'old release');
    await t.signAs(`${rb}:stable`);
    let r = await tuf('publish', tufRef, `${rb}:stable`);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain(`oci:acme/rb:stable: ${old.digest}`);
    const p = await policyFor(tufRef, root);
    const first = await libVerify(`${rb}:stable`, p);
    expect(first.verdict, JSON.stringify(first.requirements)).toBe('verified');
    expect(t.checkOf(first, 'freshness')).toMatchObject({ outcome: 'pass' });

    const fresh = await t.push(rb, 'stable', 'new release');
    await t.signAs(`${rb}:stable`);
    r = await tuf('publish', tufRef, `${rb}:stable`);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const ok = await t.cli(`${rb}:stable`, p, t.home());
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);

    // the registry moves the tag back to the older, validly Notary-signed digest
    const { target } = await openTarget(`${rb}:stable`, { create: true });
    await target.tag(await target.resolve(old.digest), 'stable');
    await target.close();
    const refused = await t.cli(`${rb}:stable`, p, t.home()); // a client with no state at all
    expect(refused.code, refused.stdout + refused.stderr).toBe(1);
    expect(refused.stdout).toMatch(
      new RegExp(`freshness check failed: the tag names ${old.digest}, but .* names ${fresh.digest}`)
    );

    const status = await tuf('status', tufRef, '-o', 'json');
    expect(status.code, status.stderr).toBe(0);
    const s = JSON.parse(status.stdout) as { root: string; roles: Array<{ role: string; version: number }> };
    expect(s.root).toBe(root);
    expect(s.roles.find((x) => x.role === 'targets')!.version).toBe(3);
  });

  it('withdrawn release: tuf remove makes a still-validly-signed digest fail by tag', async () => {
    const tufRef = `${t.serve.host}/acme/tuf-withdraw:latest`;
    const root = await init(tufRef);
    const w = `${t.serve.host}/acme/withdrawn`;
    await t.push(w, '1', 'release to withdraw');
    await t.signAs(`${w}:1`);
    expect((await tuf('publish', tufRef, `${w}:1`)).code).toBe(0);
    const p = await policyFor(tufRef, root);
    expect((await libVerify(`${w}:1`, p)).verdict).toBe('verified');
    const rm = await tuf('remove', tufRef, 'acme/withdrawn:1');
    expect(rm.code, rm.stdout + rm.stderr).toBe(0);
    const r = await t.cli(`${w}:1`, p, t.home());
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toMatch(/freshness check failed: oci:acme\/withdrawn:1 is not a current release/);
  });

  it('freeze: a timestamp expired at the reference time fails freshness; tuf timestamp refreshes it', async () => {
    const tufRef = `${t.serve.host}/acme/tuf-freeze:latest`;
    const root = await init(tufRef, '--expires', 'timestamp=1h');
    const f = `${t.serve.host}/acme/frozen`;
    await t.push(f, '1', 'release frozen');
    await t.signAs(`${f}:1`);
    expect((await tuf('publish', tufRef, `${f}:1`)).code).toBe(0);
    const p = await policyFor(tufRef, root);
    expect((await libVerify(`${f}:1`, p)).verdict).toBe('verified');
    const later = new Date(Date.now() + 2 * 3_600_000);
    const frozen = await libVerify(`${f}:1`, p, { now: later });
    expect(frozen.verdict).toBe('failed');
    expect(t.checkOf(frozen, 'freshness')).toMatchObject({
      outcome: 'fail',
      reason: expect.stringMatching(/timestamp version \d+ expired .*: a freeze/),
    });
    const st = await tuf('status', tufRef);
    expect(st.stdout).toMatch(/timestamp: version 2, expires /);
    expect((await tuf('timestamp', tufRef)).code).toBe(0);
    expect((await libVerify(`${f}:1`, p)).verdict).toBe('verified');
  });
});
