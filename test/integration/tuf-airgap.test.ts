import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { layerB, type LayerB } from '../helpers/layer-b.ts';
import { runSignet } from '../helpers/serve.ts';

// Issue 10, Layer B in an air gap: `signet sign --tuf` publishes the digest it signed, `signet
// copy --tuf` carries the TUF repository into a layout beside the release, and a layout verifies
// offline from it; expired metadata is accepted only within the statement's offlineGrace, and a
// clock set back on the air-gapped machine cannot revive what expired.
describe('Layer B air gap: sign --tuf, copy --tuf, offline with a grace', () => {
  let b: LayerB;
  beforeAll(async () => {
    b = await layerB('signet-tuf-airgap-');
  }, 60_000);
  afterAll(async () => b?.close());
  const signer = () => ({ env: { SIGNET_HOME: b.as.home } });
  const day = 86_400_000;

  it('sign --tuf publishes the digest it signed; copy --tuf carries the repository; the layout verifies offline', async () => {
    const host = b.t.serve.host;
    const tufRef = `${host}/acme/tuf-air:latest`;
    const root = await b.init(tufRef);
    const app = `${host}/acme/air`;
    const pushed = await b.t.push(app, '1', 'air-gapped release');
    const s = await runSignet(['sign', `${app}:1`, '--tuf', tufRef], signer());
    expect(s.code, s.stdout + s.stderr).toBe(0);
    expect(s.stderr).toContain(`Published oci:acme/air:1 = ${pushed.digest} in ${tufRef}`);
    const byDigest = await runSignet(['sign', `${app}@${pushed.digest}`, '--tuf', tufRef], signer());
    expect(byDigest.code).toBe(2);
    expect(byDigest.stderr).toMatch(/--tuf publishes a tag: sign .* by tag/);

    const layout = join(b.t.work, 'airgap');
    const c = await runSignet(['copy', `${app}:1`, `oci:${layout}:1`, '--tuf', tufRef], signer());
    expect(c.code, c.stdout + c.stderr).toBe(0);
    expect(c.stdout).toMatch(new RegExp(`TUF repository sha256:[0-9a-f]{64} as .*airgap:tuf`));
    const p = await b.policyFor(`oci:${layout}:tuf`, root, { offlineGrace: '7d' });
    const v = await b.t.cli(`oci:${layout}:1`, p, b.t.home(), '--name', 'acme/air', '--offline');
    expect(v.code, v.stdout + v.stderr).toBe(0);
    expect(v.stdout).toMatch(/freshness: pass \(oci:acme\/air:1 is sha256:/);
    // the layout's own tag moved back to anything else is refused there too
    const st = await b.tuf('status', `oci:${layout}:tuf`, '--root', root, '-o', 'json');
    expect(st.code, st.stderr).toBe(0);
    expect(JSON.parse(st.stdout).targets).toEqual([
      { path: 'oci:acme/air:1', digest: pushed.digest, size: pushed.size, role: 'targets' },
    ]);
  });

  it('offline: expired metadata within offlineGrace verifies and says how stale; beyond it fails; a clock set back does not revive it', async () => {
    const tufRef = `oci:${join(b.t.work, 'grace-tuf')}:tuf`;
    const app = `oci:${join(b.t.work, 'grace-app')}`;
    // the last copy into the air gap was signed three days ago, with a one-day timestamp
    const t0 = new Date(Date.now() - 3 * day);
    const root = await b.initLib(tufRef, { now: t0, expires: { timestamp: '1d' } });
    await b.t.push(app, '1', 'grace release');
    await b.t.signAs(`${app}:1`, { name: 'acme/grace' });
    await b.publish(tufRef, `${app}:1`, { name: 'acme/grace', now: t0 });
    const ref = `${app}:1`;
    const o = { name: 'acme/grace' };
    const week = await b.policyFor(tufRef, root, { offlineGrace: '7d' });
    const oneDay = await b.policyFor(tufRef, root, { offlineGrace: '1d' });
    const threeDays = await b.policyFor(tufRef, root, { offlineGrace: '3d' });
    const fresh = (r: Awaited<ReturnType<LayerB['verifyLib']>>) => b.t.checkOf(r, 'freshness');

    const online = await b.verifyLib(ref, week, o); // not --offline: no grace, a freeze
    expect(online.verdict).toBe('failed');
    expect(fresh(online)!.reason).toMatch(/timestamp version 2 expired .*: a freeze/);

    const stale = await b.verifyLib(ref, week, { ...o, offline: true });
    expect(stale.verdict, JSON.stringify(fresh(stale))).toBe('verified');
    expect(fresh(stale)!.reason).toMatch(
      /offline, accepted stale: timestamp version 2 expired \S+, 2\.0d before the reference time \(offline grace 7\.0d\)/
    );
    const beyond = await b.verifyLib(ref, oneDay, { ...o, offline: true });
    expect(beyond.verdict).toBe('failed');
    expect(fresh(beyond)!.reason).toMatch(/expired .*2\.0d ago, past the offline grace of 24\.0h/);

    // verified offline at a later time (four days on), the clock floor moves there ...
    expect((await b.verifyLib(ref, week, { ...o, offline: true, now: new Date(Date.now() + 4 * day) })).verdict).toBe(
      'verified'
    );
    // ... so a machine whose clock says "now" again verifies as of that later time: 6 days stale
    const setBack = await b.verifyLib(ref, threeDays, { ...o, offline: true });
    expect(setBack.verdict).toBe('failed');
    expect(fresh(setBack)!.reason).toMatch(/expired .*6\.0d ago, past the offline grace of 3\.0d/);
    // and the CLI says the same, exit 1
    const cli = await b.t.cli(ref, threeDays, process.env.SIGNET_HOME!, '--name', 'acme/grace', '--offline');
    expect(cli.code, cli.stdout + cli.stderr).toBe(1);
    expect(cli.stdout).toMatch(/freshness check failed: .*past the offline grace of 3\.0d/);
  });
});
