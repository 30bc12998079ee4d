import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { refreshTuf, TUF_FILENAME_ANNOTATION } from '../../src/freshness/index.ts';
import { descriptorFor, MediaType, type Descriptor, type ImageManifest } from '../../src/oci/index.ts';
import { fetchManifest, openTarget, type ReadStore } from '../../src/store/index.ts';
import { layerB, type LayerA, type LayerB } from '../helpers/layer-a.ts';

// Issue 10, Layer B: TUF metadata as one OCI artifact, `signet tuf …`, and the `freshness` check
// of a statement pinning the TUF root. Every attack fails closed with the check named.
describe('Layer B freshness: thresholds, endless data, layouts', () => {
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
  it('threshold: targets of a 2-of-3 role signed by one key is refused, by two accepted', async () => {
    const tufRef = `${t.serve.host}/acme/tuf-threshold:latest`;
    const root = await init(
      tufRef,
      ...['--targets-key', 'tuf-a', '--targets-key', 'tuf-b', '--targets-key', 'tuf-c', '--threshold', 'targets=2']
    );
    const a = `${t.serve.host}/acme/thr`;
    await t.push(a, '1', 'threshold release');
    await t.signAs(`${a}:1`);
    const p = await policyFor(tufRef, root);
    const one = await tuf('publish', tufRef, `${a}:1`, '--key', 'tuf-b');
    expect(one.code, one.stdout + one.stderr).toBe(0);
    expect(one.stderr).toMatch(/targets is signed by 1 key\(s\), below its threshold 2/);
    const refused = await t.cli(`${a}:1`, p, t.home());
    expect(refused.code, refused.stdout + refused.stderr).toBe(1);
    expect(refused.stdout).toMatch(/freshness check failed: .*targets\.json: targets was signed by 1\/2 keys/);
    const two = await tuf('publish', tufRef, `${a}:1`, '--key', 'tuf-b', '--key', 'tuf-c');
    expect(two.code, two.stdout + two.stderr).toBe(0);
    const accepted = await t.cli(`${a}:1`, p, t.home());
    expect(accepted.code, accepted.stdout + accepted.stderr).toBe(0);
  });

  it('endless data: an oversized metadata layer is refused without being read', async () => {
    const tufRef = `${t.serve.host}/acme/tuf-endless:latest`;
    const root = await init(tufRef);
    const e = `${t.serve.host}/acme/endless`;
    await t.push(e, '1', 'endless release');
    await t.signAs(`${e}:1`);
    expect((await tuf('publish', tufRef, `${e}:1`)).code).toBe(0);
    // the registry serves a bundle whose timestamp.json is 1 MiB (the cap is 16 KiB)
    const { target } = await openTarget(tufRef, { create: true });
    const desc = await target.resolve('latest');
    const { manifest } = await fetchManifest(target, {
      mediaType: desc.mediaType,
      digest: desc.digest,
      size: desc.size,
    });
    const big = Buffer.alloc(1 << 20, 0x20);
    const bigDesc = descriptorFor('application/vnd.tuf.metadata+json', big);
    await target.push(bigDesc, big);
    const m = manifest as ImageManifest;
    const layers = m.layers.map((l) =>
      l.annotations?.[TUF_FILENAME_ANNOTATION] === 'timestamp.json'
        ? { ...bigDesc, annotations: { [TUF_FILENAME_ANNOTATION]: 'timestamp.json' } }
        : l
    );
    const bytes = Buffer.from(JSON.stringify({ ...m, layers }));
    const md = descriptorFor(MediaType.ImageManifest, bytes);
    await target.push(md, bytes);
    await target.tag(md, 'latest');
    // a store that records what is fetched: the big blob is never asked for
    const fetched: string[] = [];
    const spy: ReadStore = Object.create(target, {
      fetch: { value: (d: Descriptor) => (fetched.push(d.digest), target.fetch(d)) },
    });
    await expect(refreshTuf(spy, 'latest', root, { stateDir: false })).rejects.toThrow(
      /timestamp\.json is 1048576 bytes, over the 16384-byte limit for it: not read/
    );
    expect(fetched).not.toContain(bigDesc.digest);
    expect(fetched.length).toBeGreaterThan(0);
    await target.close();
    const r = await t.cli(`${e}:1`, await policyFor(tufRef, root), t.home());
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toMatch(/freshness check failed: TUF metadata .* refused: timestamp\.json is 1048576 bytes/);
  });

  it('a layout carries the TUF repository: publish with --name, remove fails the release by tag', async () => {
    const tufRef = `oci:${join(t.work, 'airgap')}:tuf`;
    const root = await init(tufRef);
    const app = `oci:${join(t.work, 'airgap-app')}`;
    await t.push(app, '2', 'layout release');
    await t.signAs(`${app}:2`, { name: 'acme/app' });
    const pub = await tuf('publish', tufRef, `${app}:2`, '--name', 'acme/app');
    expect(pub.code, pub.stdout + pub.stderr).toBe(0);
    const p = await policyFor(tufRef, root);
    const ok = await t.cli(`${app}:2`, p, t.home(), '--name', 'acme/app');
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect((await tuf('remove', tufRef, 'acme/app:2')).code).toBe(0);
    const r = await t.cli(`${app}:2`, p, t.home(), '--name', 'acme/app');
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toMatch(/freshness check failed: oci:acme\/app:2 is not a current release/);
    const s = await tuf('status', tufRef, '-o', 'json');
    expect(JSON.parse(s.stdout).root).toBe(root);
  });
});
