import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tufRotate, tufStatus } from '../../src/freshness/index.ts';
import { layerB, storeOf, STORE_KINDS, type LayerB } from '../helpers/layer-b.ts';

// Issue 10, Layer B: who may sign — thresholds, key rotation (clients follow the root chain),
// fast-forward attack recovery, and delegated targets roles — against signet serve, Debian's
// docker-registry and an OCI layout. Refusals fail closed (exit 1, `freshness` named).
describe('Layer B freshness keys: threshold, rotation, fast-forward recovery, delegation', () => {
  let b: LayerB;
  beforeAll(async () => {
    b = await layerB('signet-tuf-keys-');
  }, 60_000);
  afterAll(async () => b?.close());
  /** The library client's home: its TUF state persists across verifications (an existing client). */
  const libClient = () => process.env.SIGNET_HOME!;

  describe.each(STORE_KINDS)('$kind', ({ kind }) => {
    const at = () => storeOf(b, kind);
    async function signed(repo: string, tag: string, content: string) {
      const s = at();
      const pushed = await b.t.push(s.base(repo), tag, `${content} (${kind})`);
      await b.t.signAs(`${s.base(repo)}:${tag}`, s.name(repo));
      return pushed;
    }
    const cli = (repo: string, tag: string, policy: string, home = b.t.home()) =>
      b.t.cli(`${at().base(repo)}:${tag}`, policy, home, ...at().cliName(repo));

    it('threshold: targets of a 2-of-3 role signed by one key is refused, by two accepted', async () => {
      const s = at();
      const tufRef = s.tufRef('threshold');
      const root = await b.initLib(tufRef, {
        keys: { root: ['tuf-a'], targets: ['tuf-a', 'tuf-b', 'tuf-c'] },
        thresholds: { targets: 2 },
      });
      await signed('acme/thr', '1', 'threshold release');
      const p = await b.policyFor(tufRef, root);
      const one = await b.publish(tufRef, `${s.base('acme/thr')}:1`, { ...s.name('acme/thr'), signWith: ['tuf-b'] });
      expect(one.roles.find((r) => r.role === 'targets')).toMatchObject({ signatures: 1, threshold: 2 });
      const refused = await cli('acme/thr', '1', p);
      expect(refused.code, refused.stdout + refused.stderr).toBe(1);
      expect(refused.stdout).toMatch(/freshness check failed: .*targets\.json: targets was signed by 1\/2 keys/);
      await b.publish(tufRef, `${s.base('acme/thr')}:1`, { ...s.name('acme/thr'), signWith: ['tuf-b', 'tuf-c'] });
      expect((await b.verifyLib(`${s.base('acme/thr')}:1`, p, s.name('acme/thr'))).verdict).toBe('verified');
    });

    it('rotation: tuf rotate keeps existing clients working, a client pinned to the first root follows the chain, the old key is refused', async () => {
      const s = at();
      const tufRef = s.tufRef('rotate');
      const root = await b.initLib(tufRef);
      await signed('acme/rot', '1', 'rotated release');
      await b.publish(tufRef, `${s.base('acme/rot')}:1`, s.name('acme/rot'));
      const p = await b.policyFor(tufRef, root);
      const ref = `${s.base('acme/rot')}:1`;
      expect((await b.verifyLib(ref, p, s.name('acme/rot'))).verdict).toBe('verified'); // trusts root 1 now
      const r = await tufRotate(tufRef, 'targets', { ...b.as, keys: ['tuf-b'] });
      expect(r.roles.map((x) => `${x.role} v${x.version}`)).toEqual(['targets v3', 'snapshot v3', 'timestamp v3']);
      expect((await b.verifyLib(ref, p, s.name('acme/rot'))).verdict).toBe('verified'); // the existing client
      await tufRotate(tufRef, 'root', { ...b.as, keys: ['tuf-c'] });
      const st = await tufStatus(tufRef, b.as);
      expect(st.roles.find((x) => x.role === 'root')!.version).toBe(3);
      const fresh = await cli('acme/rot', '1', p); // pinned to 1.root.json: follows 1 → 2 → 3
      expect(fresh.code, fresh.stdout + fresh.stderr).toBe(0);
      expect(fresh.stdout).toMatch(/freshness: pass/);
      // targets signed by the rotated-out key no longer count
      await b.publish(tufRef, ref, { ...s.name('acme/rot'), signWith: ['tuf-a'] });
      const old = await cli('acme/rot', '1', p);
      expect(old.code, old.stdout + old.stderr).toBe(1);
      expect(old.stdout).toMatch(/freshness check failed: .*targets\.json: targets was signed by 0\/1 keys/);
    });

    it('fast-forward recovery: after a timestamp key rotation, a client that saw an inflated version recovers', async () => {
      const s = at();
      const tufRef = s.tufRef('ffwd');
      const root = await b.initLib(tufRef, { keys: { root: ['tuf-a'], timestamp: ['tuf-b'] } });
      await signed('acme/ffwd', '1', 'fast-forward release');
      await b.publish(tufRef, `${s.base('acme/ffwd')}:1`, s.name('acme/ffwd'));
      const p = await b.policyFor(tufRef, root);
      const ref = `${s.base('acme/ffwd')}:1`;
      const legit = await b.files(tufRef);
      // an attacker with the (compromised) timestamp key serves timestamp version 1000 to this client
      const inflated = new Map(legit.files);
      inflated.set(
        'timestamp.json',
        await b.forgeTimestamp(legit.files.get('timestamp.json')!, 'tuf-b', (x) => (x.version = 1000))
      );
      await b.plant(tufRef, inflated);
      expect((await b.verifyLib(ref, p, s.name('acme/ffwd'))).verdict).toBe('verified');
      // the registry serves the real metadata again: the client now refuses it (the attack's effect)
      await b.retag(tufRef, legit.digest);
      const stuck = await cli('acme/ffwd', '1', p, libClient());
      expect(stuck.code, stuck.stdout + stuck.stderr).toBe(1);
      expect(stuck.stdout).toMatch(
        /freshness check failed: .*timestamp version 2 is older than the trusted 1000: a rollback/
      );
      // the publisher rotates the timestamp key: root 2 tells clients to forget the trusted timestamp
      await tufRotate(tufRef, 'timestamp', { ...b.as, keys: ['tuf-c'] });
      const recovered = await cli('acme/ffwd', '1', p, libClient());
      expect(recovered.code, recovered.stdout + recovered.stderr).toBe(0);
      expect(recovered.stdout).toMatch(/freshness: pass .*timestamp version 3/);
    });
  });

  describe('delegated targets roles (signet serve)', () => {
    it('a delegated role signs releases within its paths; outside them, or with another key, it is refused', async () => {
      const host = b.t.serve.host;
      const tufRef = `${host}/acme/tuf-delegate:latest`;
      const root = await b.init(tufRef);
      const del = await b.tuf(
        ...['delegate', tufRef, 'app-ci', '--paths', 'oci:acme/deleg:*', '--key', 'tuf-b', '--key', 'tuf-c'],
        ...['--threshold', '2']
      );
      expect(del.code, del.stdout + del.stderr).toBe(0);
      expect(del.stdout).toMatch(/^app-ci: version 1, .*, 2 signature\(s\), threshold 2$/m);
      const app = `${host}/acme/deleg`;
      await b.t.push(app, '1', 'delegated release');
      await b.t.signAs(`${app}:1`);
      const pub = await b.tuf('publish', tufRef, `${app}:1`, '--role', 'app-ci');
      expect(pub.code, pub.stdout + pub.stderr).toBe(0);
      expect(pub.stdout).toMatch(/oci:acme\/deleg:1: sha256:[0-9a-f]{64} \(\d+ bytes\) in role app-ci/);
      const p = await b.policyFor(tufRef, root);
      const ok = await b.verifyLib(`${app}:1`, p);
      expect(ok.verdict).toBe('verified');
      expect(b.t.checkOf(ok, 'freshness')!.reason).toMatch(/\(delegated role app-ci\)/);
      // a path outside the delegation is refused at publish time
      await b.t.push(`${host}/acme/other`, '1', 'not delegated');
      const outside = await b.tuf('publish', tufRef, `${host}/acme/other:1`, '--role', 'app-ci');
      expect(outside.code).toBe(2);
      expect(outside.stderr).toMatch(/oci:acme\/other:1 is outside the paths delegated to app-ci/);
      // the role's metadata signed by one of its two keys fails the delegation threshold
      await b.t.push(app, '2', 'second delegated release');
      await b.t.signAs(`${app}:2`);
      expect((await b.tuf('publish', tufRef, `${app}:2`, '--role', 'app-ci', '--key', 'tuf-b')).code).toBe(0);
      const refused = await b.t.cli(`${app}:2`, p, b.t.home());
      expect(refused.code, refused.stdout + refused.stderr).toBe(1);
      expect(refused.stdout).toMatch(/freshness check failed: .*app-ci\.json: app-ci was signed by 1\/2 keys/);
      // rotated to one key (the top-level targets sign the new delegation), the role signs alone
      const rot = await b.tuf('rotate', tufRef, 'app-ci', '--key', 'tuf-c');
      expect(rot.code, rot.stdout + rot.stderr).toBe(0);
      expect((await b.verifyLib(`${app}:2`, p)).verdict).toBe('verified');
      const st = await b.tuf('status', tufRef);
      expect(st.stdout).toContain('delegation app-ci: oci:acme/deleg:*, threshold 1 of 1, terminating');
      expect(st.stdout).toMatch(/oci:acme\/deleg:2 sha256:[0-9a-f]{64} \d+ \(app-ci\)/);
    });
  });
});
