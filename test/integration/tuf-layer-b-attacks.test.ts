import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { refreshTuf, tufRemove, tufTimestamp, TUF_FILENAME_ANNOTATION } from '../../src/freshness/index.ts';
import { descriptorFor, MediaType, type Descriptor, type ImageManifest } from '../../src/oci/index.ts';
import { fetchManifest, openTarget, type ReadStore } from '../../src/store/index.ts';
import { layerB, moveTag, storeOf, STORE_KINDS, type LayerB } from '../helpers/layer-b.ts';

// Issue 10, Layer B: the attacks on what a registry serves, each failing closed (exit 1, the
// `freshness` check named) against signet serve, Debian's docker-registry and an OCI layout. The
// TUF repository lives in the same store as the releases; clients have no state unless said.
describe('Layer B freshness attacks: stateless rollback, withdrawn release, freeze, mix-and-match, endless data', () => {
  let b: LayerB;
  beforeAll(async () => {
    b = await layerB('signet-tuf-attacks-');
  }, 60_000);
  afterAll(async () => b?.close());

  describe.each(STORE_KINDS)('$kind', ({ kind }) => {
    const at = () => storeOf(b, kind);
    /** A signed release `repo:tag` with `content`, published in TUFREF. */
    async function release(tufRef: string, repo: string, tag: string, content: string) {
      const s = at();
      const pushed = await b.t.push(s.base(repo), tag, `${content} (${kind})`);
      await b.t.signAs(`${s.base(repo)}:${tag}`, s.name(repo));
      await b.publish(tufRef, `${s.base(repo)}:${tag}`, s.name(repo));
      return pushed;
    }
    const refusedByCli = async (repo: string, tag: string, policy: string) => {
      const r = await b.t.cli(`${at().base(repo)}:${tag}`, policy, b.t.home(), ...at().cliName(repo));
      expect(r.code, r.stdout + r.stderr).toBe(1);
      return r.stdout;
    };

    it('tag rollback with no client state: the current target names the new digest, the old validly signed one fails', async () => {
      const s = at();
      const tufRef = s.tufRef('rollback');
      const root = await b.initLib(tufRef);
      const old = await release(tufRef, 'acme/rb', 'stable', 'old release');
      const p = await b.policyFor(tufRef, root);
      expect((await b.verifyLib(`${s.base('acme/rb')}:stable`, p, s.name('acme/rb'))).verdict).toBe('verified');
      const fresh = await release(tufRef, 'acme/rb', 'stable', 'new release');
      await moveTag(s.base('acme/rb'), 'stable', old.digest);
      expect(await refusedByCli('acme/rb', 'stable', p)).toMatch(
        new RegExp(`freshness check failed: the tag names ${old.digest}, but .* names ${fresh.digest}`)
      );
    });

    it('withdrawn release: tuf remove makes a still-validly-signed digest fail by tag', async () => {
      const s = at();
      const tufRef = s.tufRef('withdraw');
      const root = await b.initLib(tufRef);
      await release(tufRef, 'acme/withdrawn', '1', 'release to withdraw');
      const p = await b.policyFor(tufRef, root);
      expect((await b.verifyLib(`${s.base('acme/withdrawn')}:1`, p, s.name('acme/withdrawn'))).verdict).toBe(
        'verified'
      );
      await tufRemove(tufRef, 'acme/withdrawn:1', b.as);
      expect(await refusedByCli('acme/withdrawn', '1', p)).toMatch(
        /freshness check failed: oci:acme\/withdrawn:1 is not a current release/
      );
    });

    it('freeze: the registry keeps serving metadata past the timestamp expiry; tuf timestamp ends it', async () => {
      const s = at();
      const tufRef = s.tufRef('freeze');
      // the repository was last signed three hours ago with a one-hour timestamp
      const past = new Date(Date.now() - 3 * 3_600_000);
      const root = await b.initLib(tufRef, { now: past, expires: { timestamp: '1h' } });
      await b.t.push(s.base('acme/frozen'), '1', `frozen release (${kind})`);
      await b.t.signAs(`${s.base('acme/frozen')}:1`, s.name('acme/frozen'));
      await b.publish(tufRef, `${s.base('acme/frozen')}:1`, { ...s.name('acme/frozen'), now: past });
      const p = await b.policyFor(tufRef, root);
      expect(await refusedByCli('acme/frozen', '1', p)).toMatch(
        /freshness check failed: TUF metadata .* refused: TUF: timestamp version 2 expired .*: a freeze/
      );
      await tufTimestamp(tufRef, b.as);
      expect((await b.verifyLib(`${s.base('acme/frozen')}:1`, p, s.name('acme/frozen'))).verdict).toBe('verified');
    });

    it('mix-and-match: a snapshot and a targets file that never coexisted are refused', async () => {
      const s = at();
      const tufRef = s.tufRef('mix');
      const root = await b.initLib(tufRef);
      await release(tufRef, 'acme/mix', '1', 'first');
      const before = await b.files(tufRef); // targets 2, snapshot 2, timestamp 2
      await release(tufRef, 'acme/mix', '2', 'second');
      const after = await b.files(tufRef); // targets 3, snapshot 3, timestamp 3
      const p = await b.policyFor(tufRef, root);
      expect((await b.verifyLib(`${s.base('acme/mix')}:2`, p, s.name('acme/mix'))).verdict).toBe('verified');
      // the registry serves the old timestamp and snapshot with the new targets (which list 2)
      const mixed = new Map(after.files);
      mixed.set('timestamp.json', before.files.get('timestamp.json')!);
      mixed.set('snapshot.json', before.files.get('snapshot.json')!);
      await b.plant(tufRef, mixed);
      expect(await refusedByCli('acme/mix', '2', p)).toMatch(
        /freshness check failed: .*targets\.json (is \d+ bytes, but the snapshot lists \d+|does not match the snapshot) \(a mix-and-match\)/
      );
    });

    it('endless data: an oversized metadata layer is refused without being read', async () => {
      const s = at();
      const tufRef = s.tufRef('endless');
      const root = await b.initLib(tufRef);
      await release(tufRef, 'acme/endless', '1', 'endless release');
      // the registry serves a bundle whose timestamp.json is 1 MiB (the cap is 16 KiB)
      const { target, reference } = await openTarget(tufRef, { create: true });
      try {
        const desc = await target.resolve(reference!);
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
        await target.tag(md, reference!);
        // a store that records what is fetched: the big blob is never asked for
        const fetched: string[] = [];
        const spy: ReadStore = Object.create(target, {
          fetch: { value: (d: Descriptor) => (fetched.push(d.digest), target.fetch(d)) },
          ...(target.fetchBytes
            ? { fetchBytes: { value: (d: Descriptor) => (fetched.push(d.digest), target.fetchBytes!(d)) } }
            : {}),
        });
        await expect(refreshTuf(spy, reference!, root, { stateDir: false })).rejects.toThrow(
          /timestamp\.json is 1048576 bytes, over the 16384-byte limit for it: not read/
        );
        expect(fetched).not.toContain(bigDesc.digest);
        expect(fetched.length).toBeGreaterThan(0);
      } finally {
        await target.close();
      }
      expect(await refusedByCli('acme/endless', '1', await b.policyFor(tufRef, root))).toMatch(
        /freshness check failed: TUF metadata .* refused: timestamp\.json is 1048576 bytes/
      );
    });
  });
});
