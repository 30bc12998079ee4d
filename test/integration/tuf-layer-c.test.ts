import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { toPem } from '../../src/pki/index.ts';
import { layerB, type LayerB } from '../helpers/layer-b.ts';

// Issue 10, Layer C: the trust store's certificates as TUF targets (`signet tuf trust`). A
// statement with `freshness.trustStore` trusts a certificate only while it is a current target:
// removing it there revokes it offline, and the TUF versions keep the old list from coming back.
describe('Layer C: trust material through TUF', () => {
  let b: LayerB;
  beforeAll(async () => {
    b = await layerB('signet-tuf-c-');
  }, 60_000);
  afterAll(async () => b?.close());

  it('a certificate removed from the published trust store is no longer trusted; the old list cannot be replayed', async () => {
    const t = b.t;
    const tufRef = `${t.serve.host}/acme/tuf-trust:latest`;
    const root = await b.initLib(tufRef);
    const pub = await b.tuf('trust', tufRef, 'ca:t', '--trust-store', t.store);
    expect(pub.code, pub.stdout + pub.stderr).toBe(0);
    expect(pub.stdout).toMatch(/^added x509:ca:t\/[0-9a-f]{64}$/m);
    expect(pub.stdout).toContain('ca:t: 1 added, 0 removed, 0 unchanged');
    const app = `${t.serve.host}/acme/trusted`;
    await t.push(app, '1', 'release under Layer C');
    await t.signAs(`${app}:1`);
    await b.publish(tufRef, `${app}:1`);
    const p = await b.policyFor(tufRef, root, { trustStore: true });
    const ok = await b.verifyLib(`${app}:1`, p);
    expect(ok.verdict, JSON.stringify(ok.requirements)).toBe('verified');
    const material = ok.requirements[0]!.checks.find(
      (c) => c.name === 'freshness' && /trust material/.test(c.reason ?? '')
    );
    expect(material).toMatchObject({
      outcome: 'pass',
      reason: expect.stringMatching(/ca:t: 1 of 1 certificate\(s\) current/),
    });
    const before = await b.files(tufRef);

    // the publisher's trust store now holds another root only: publishing it withdraws the old one
    const other = await t.keys.generate('other-root', {
      type: 'ecdsa-p256',
      ca: true,
      subject: 'CN=Other,O=T,ST=WA,C=US',
    });
    const publisherStore = join(t.work, 'publisher-store');
    await mkdir(join(publisherStore, 'x509', 'ca', 't'), { recursive: true });
    await writeFile(join(publisherStore, 'x509', 'ca', 't', 'other.pem'), toPem([other.chain[0]!]));
    const sync = await b.tuf('trust', tufRef, 'ca:t', '--trust-store', publisherStore);
    expect(sync.code, sync.stdout + sync.stderr).toBe(0);
    expect(sync.stdout).toContain('ca:t: 1 added, 1 removed, 0 unchanged');
    const revoked = await t.cli(`${app}:1`, p, process.env.SIGNET_HOME!);
    expect(revoked.code, revoked.stdout + revoked.stderr).toBe(1);
    expect(revoked.stdout).toMatch(
      /ca:t: 0 of 1 certificate\(s\) current \(not a current target, so not trusted: .*CN=R/
    );
    expect(revoked.stdout).toMatch(/authenticity check failed/);

    // a registry serving the old list again: this client saw newer metadata, so it is a rollback
    await b.retag(tufRef, before.digest);
    const replay = await t.cli(`${app}:1`, p, process.env.SIGNET_HOME!);
    expect(replay.code, replay.stdout + replay.stderr).toBe(1);
    expect(replay.stdout).toMatch(
      /no certificate of ca:t is trusted: TUF: timestamp version \d+ is older than the trusted \d+: a rollback/
    );
  });
  it('Layers C and B judge one refresh of the TUF repository per verification', async () => {
    const t = b.t;
    const tufRef = `${t.serve.host}/acme/tuf-once:latest`;
    const root = await b.initLib(tufRef);
    expect((await b.tuf('trust', tufRef, 'ca:t', '--trust-store', t.store)).code).toBe(0);
    const app = `${t.serve.host}/acme/once`;
    await t.push(app, '1', 'release read once');
    await t.signAs(`${app}:1`);
    await b.publish(tufRef, `${app}:1`);
    // the registry's own count of the requests one verification makes
    const requests = async (): Promise<number> => {
      const text = await (await fetch(`http://${t.serve.host}/metrics`)).text();
      return [...text.matchAll(/^signet_http_requests_total\{[^}]*\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
    };
    const made = async (policy: string): Promise<number> => {
      const before = await requests();
      const r = await b.verifyLib(`${app}:1`, policy);
      expect(r.verdict, JSON.stringify(r.requirements)).toBe('verified');
      return (await requests()) - before - 1; // less the /metrics request itself
    };
    const layerBOnly = await b.policyFor(tufRef, root);
    const both = await b.policyFor(tufRef, root, { trustStore: true });
    await made(both); // both policies have now seen the current metadata
    const bOnly = await made(layerBOnly);
    const withC = await made(both);
    expect(bOnly).toBeGreaterThan(4); // the artifact's requests and one refresh
    expect(withC).toBe(bOnly);
  });
});
