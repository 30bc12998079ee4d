// The library's verdict cache (createVerifier) against a real signet serve: a verified verdict is
// reused only while nothing it depends on changed. The clock is the verifier's own (no waiting).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeyStore, toPem } from '../../src/pki/index.ts';
import { sign } from '../../src/sign/index.ts';
import { RegistryTarget } from '../../src/store/index.ts';
import { createVerifier, type Verifier } from '../../src/verify/index.ts';
import { pushArtifact } from '../helpers/artifacts.ts';
import { startRevocationPki, type RevocationPki } from '../helpers/revocation.ts';
import { startServe, type Served } from '../helpers/serve.ts';
import { trustSetup } from '../helpers/trust.ts';

const HOUR = 3600_000;

describe('createVerifier: cached verdicts are never stale', () => {
  let served: Served;
  let work: string;
  let keys: KeyStore;
  let store: string;
  let policy: string;
  let n = 0;
  const verifiers: Verifier[] = [];

  beforeAll(async () => {
    served = await startServe();
    work = await mkdtemp(join(tmpdir(), 'signet-verifier-'));
    ({ keys, store, policy } = await trustSetup(work));
  });
  afterAll(async () => {
    for (const v of verifiers) await v.close();
    await served?.close();
    await rm(work, { recursive: true, force: true });
  });

  /** A fresh artifact in its own repository; its reference by tag and by digest. */
  async function artifact(): Promise<{ tag: string; digest: string }> {
    const repo = `cache/app${n++}`;
    const t = new RegistryTarget({ registry: served.host, repository: repo });
    const d = await pushArtifact(t, `artifact ${n}`, { tag: 'v1' });
    await t.close();
    return { tag: `${served.host}/${repo}:v1`, digest: `${served.host}/${repo}@${d.digest}` };
  }

  /** A verifier over the policy files, with a clock the test moves. */
  async function verifier(
    extra: Partial<Parameters<typeof createVerifier>[0]> = {}
  ): Promise<{ v: Verifier; clock: { now: number } }> {
    const clock = { now: Date.now() };
    const v = await createVerifier({
      sources: { trustPolicy: policy, trustStore: store, defaults: false },
      revocationData: { cache: false },
      clock: () => new Date(clock.now),
      ...extra,
    });
    verifiers.push(v);
    return { v, clock };
  }

  it('reuses a verified verdict (by tag and by digest), and never a failed one', async () => {
    const a = await artifact();
    const { v } = await verifier();
    expect((await v.verify(a.tag)).verdict).toBe('failed'); // unsigned
    expect((await v.verify(a.tag)).verdict).toBe('failed');
    expect(v.stats()).toMatchObject({ hits: 0, misses: 2, entries: 0 });
    await sign(a.tag, { keyStore: keys });
    const first = await v.verify(a.tag);
    expect(first.verdict).toBe('verified');
    const again = await v.verify(a.tag);
    expect(again).toBe(first);
    expect(Object.isFrozen(again)).toBe(true);
    const byDigest = await v.verify(a.digest);
    expect(byDigest.verdict).toBe('verified');
    expect(await v.verify(a.digest)).toBe(byDigest);
    expect(v.stats()).toMatchObject({ hits: 2, misses: 4 });
  });

  it('a new referrer invalidates: a second signature is seen at once', async () => {
    const a = await artifact();
    await sign(a.tag, { keyStore: keys });
    const { v } = await verifier();
    const one = await v.verify(a.tag);
    expect(one.signatures).toHaveLength(1);
    expect(await v.verify(a.tag)).toBe(one);
    await sign(a.tag, { keyStore: keys, signatureFormat: 'cose' });
    const two = await v.verify(a.tag);
    expect(two).not.toBe(one);
    expect(two.signatures).toHaveLength(2);
    expect(two.verdict).toBe('verified');
  });

  it('a tag moved to another digest is judged at the new digest', async () => {
    const a = await artifact();
    await sign(a.tag, { keyStore: keys });
    const { v } = await verifier();
    expect((await v.verify(a.tag)).verdict).toBe('verified');
    const repo = a.tag.slice(served.host.length + 1, -':v1'.length);
    const t = new RegistryTarget({ registry: served.host, repository: repo });
    await pushArtifact(t, 'another release', { tag: 'v1' });
    await t.close();
    const moved = await v.verify(a.tag);
    expect(moved.verdict).toBe('failed'); // the new digest is unsigned
  });

  it('a changed trust policy file invalidates, and so does a changed trust store', async () => {
    const a = await artifact();
    await sign(a.tag, { keyStore: keys });
    const own = join(work, `own-${n}`);
    await mkdir(join(own, 'store', 'x509', 'ca', 't'), { recursive: true });
    const root = (await keys.certificateChain('root'))[0]!;
    await writeFile(join(own, 'store', 'x509', 'ca', 't', 'r.pem'), toPem([root]));
    const statement = (identities: string[]) => ({
      version: '1.0',
      trustPolicies: [
        {
          name: 't',
          registryScopes: ['*'],
          signatureVerification: { level: 'strict' },
          trustStores: ['ca:t'],
          trustedIdentities: identities,
        },
      ],
    });
    const policyFile = join(own, 'policy.json');
    await writeFile(policyFile, JSON.stringify(statement(['*'])));
    const { v } = await verifier({
      sources: { trustPolicy: policyFile, trustStore: join(own, 'store'), defaults: false },
    });
    const ok = await v.verify(a.digest);
    expect(ok.verdict).toBe('verified');
    expect(await v.verify(a.digest)).toBe(ok);
    // Same length, other identity: written within the file system's timestamp granularity.
    await writeFile(policyFile, JSON.stringify(statement(['x509.subject: CN=X,O=T,ST=WA,C=US'])));
    const refused = await v.verify(a.digest);
    expect(refused.verdict).toBe('failed');
    expect(v.stats().policyReloads).toBe(1);
    await writeFile(policyFile, JSON.stringify(statement(['*'])));
    expect((await v.verify(a.digest)).verdict).toBe('verified');
    // The root replaced by another CA's: nothing chains any more.
    const other = new KeyStore(join(own, 'other'));
    const otherRoot = await other.generate('root', { type: 'ecdsa-p256', ca: true, subject: 'CN=R,O=T,ST=WA,C=US' });
    await writeFile(join(own, 'store', 'x509', 'ca', 't', 'r.pem'), toPem([otherRoot.chain[0]!]));
    const untrusted = await v.verify(a.digest);
    expect(untrusted.verdict).toBe('failed');
    expect(JSON.stringify(untrusted)).toMatch(/does not chain/);
  });

  it('policy files leaving the recently-changed window are no change (the verdict stays cached)', async () => {
    const a = await artifact();
    await sign(a.tag, { keyStore: keys });
    const own = await mkdtemp(join(work, 'fresh-')); // files written now: within the racy window
    const fresh = await trustSetup(own);
    await sign(a.tag, { keyStore: fresh.keys });
    const { v } = await verifier({ sources: { trustPolicy: fresh.policy, trustStore: fresh.store, defaults: false } });
    const ok = await v.verify(a.digest);
    expect(ok.verdict).toBe('verified');
    await new Promise((r) => setTimeout(r, 2100)); // past the 2 s window: no hash in the stamp any more
    expect(await v.verify(a.digest)).toBe(ok);
    expect(v.stats().policyReloads).toBe(0);
  });

  it('expiry: a verdict is not reused past the signature expiry', async () => {
    const a = await artifact();
    await sign(a.tag, { keyStore: keys, expirySeconds: 3600 });
    const { v, clock } = await verifier();
    const ok = await v.verify(a.digest);
    expect(ok.verdict).toBe('verified');
    expect(Date.parse(ok.validUntil!)).toBeLessThanOrEqual(clock.now + HOUR + 1000);
    expect(await v.verify(a.digest)).toBe(ok);
    clock.now += 2 * HOUR;
    const later = await v.verify(a.digest);
    expect(later.verdict).toBe('failed');
    expect(JSON.stringify(later)).toMatch(/expired/);
  });

  it('the ttl bounds a verdict without a validUntil of its own', async () => {
    const a = await artifact();
    await sign(a.tag, { keyStore: keys });
    const { v, clock } = await verifier({ ttl: 60_000 });
    const ok = await v.verify(a.digest);
    expect(await v.verify(a.digest)).toBe(ok);
    clock.now += 61_000;
    const again = await v.verify(a.digest);
    expect(again).not.toBe(ok);
    expect(again.verdict).toBe('verified');
  });

  it('is bounded: the least recently used verdict goes first', async () => {
    const as = [await artifact(), await artifact(), await artifact()];
    for (const a of as) await sign(a.tag, { keyStore: keys });
    const { v } = await verifier({ cacheSize: 2 });
    const r0 = await v.verify(as[0]!.digest);
    await v.verify(as[1]!.digest);
    expect(await v.verify(as[0]!.digest)).toBe(r0); // 0 is now the most recent
    await v.verify(as[2]!.digest); // evicts 1
    expect(v.stats().entries).toBe(2);
    expect(await v.verify(as[0]!.digest)).toBe(r0);
    const misses = v.stats().misses;
    await v.verify(as[1]!.digest);
    expect(v.stats().misses).toBe(misses + 1);
  });

  it('concurrent calls share one observation and one verification', async () => {
    const a = await artifact();
    await sign(a.tag, { keyStore: keys });
    const { v } = await verifier();
    const reports = await Promise.all(Array.from({ length: 50 }, () => v.verify(a.tag)));
    expect(new Set(reports).size).toBe(1);
    expect(reports[0]!.verdict).toBe('verified');
    expect(v.stats().misses).toBeLessThanOrEqual(2);
  });
});

describe('createVerifier: revocation evidence bounds a cached verdict', () => {
  let pki: RevocationPki;
  let served: Served;
  let work: string;

  beforeAll(async () => {
    pki = await startRevocationPki();
    served = await startServe();
    work = await mkdtemp(join(tmpdir(), 'signet-verifier-rev-'));
  });
  afterAll(async () => {
    await pki?.close();
    await served?.close();
    await rm(work, { recursive: true, force: true });
  });

  it('a CRL nextUpdate passing makes the verdict be judged again, with the CRL served then', async () => {
    await mkdir(join(work, 'store', 'x509', 'ca', 'r'), { recursive: true });
    await writeFile(join(work, 'store', 'x509', 'ca', 'r', 'root.pem'), toPem([pki.root]));
    const policy = join(work, 'policy.json');
    await writeFile(
      policy,
      JSON.stringify({
        version: '1.0',
        trustPolicies: [
          {
            name: 'r',
            registryScopes: ['*'],
            signatureVerification: { level: 'strict' },
            trustStores: ['ca:r'],
            trustedIdentities: ['*'],
          },
        ],
      })
    );
    const t = new RegistryTarget({ registry: served.host, repository: 'rev/app' });
    const d = await pushArtifact(t, 'revocable', { tag: 'v1' });
    await t.close();
    const ref = `${served.host}/rev/app@${d.digest}`;
    await sign(ref, { signer: pki.crlGood });
    await pki.crlMode('short'); // nextUpdate in an hour
    const clock = { now: Date.now() };
    const v = await createVerifier({
      sources: { trustPolicy: policy, trustStore: join(work, 'store'), defaults: false },
      revocationData: { cache: false },
      clock: () => new Date(clock.now),
    });
    try {
      const ok = await v.verify(ref);
      expect(ok.verdict).toBe('verified');
      expect(Date.parse(ok.validUntil!)).toBeLessThanOrEqual(clock.now + HOUR + 60_000);
      expect(await v.verify(ref)).toBe(ok);
      // Two hours on, the CRL that vouched for it is out of date: not reused, judged again.
      clock.now += 2 * HOUR;
      const misses = v.stats().misses;
      const stale = await v.verify(ref).catch((err: Error) => err);
      expect(v.stats().misses).toBe(misses + 1);
      expect(stale instanceof Error || stale.verdict !== 'verified').toBe(true);
      // A new CRL (seven days) is published: verified again, until its own nextUpdate.
      await pki.crlMode('good');
      const renewed = await v.verify(ref);
      expect(renewed.verdict).toBe('verified');
      expect(Date.parse(renewed.validUntil!)).toBeGreaterThan(clock.now);
    } finally {
      await v.close();
    }
  });
});
