import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeyStore, toPem } from '../../src/pki/index.ts';
import { sign } from '../../src/sign/index.ts';
import { verify, type VerificationReport } from '../../src/verify/index.ts';
import { runSignet } from '../helpers/serve.ts';

// n-of-m under one statement: a layout made by notation (vector F7: one signature by a key trusted
// through ca:e2e, one by a certificate no store trusts) gets signatures by more keys from Signet.
const V = join(import.meta.dirname, '../fixtures/notary');
const ID = (cn: string): string => `x509.subject: CN=${cn},O=T,ST=WA,C=US`;

describe('signatureThreshold, requiredIdentities and key rotation', () => {
  let work: string;
  let keys: KeyStore;
  let store: string;
  let layout: string;

  async function policy(name: string, statement: Record<string, unknown>): Promise<string> {
    const p = join(work, `${name}.json`);
    const base = {
      name,
      registryScopes: ['*'],
      signatureVerification: { level: 'strict' },
      trustStores: ['ca:e2e', 'ca:mine'],
      trustedIdentities: ['*'],
    };
    await writeFile(p, JSON.stringify({ version: '1.0', trustPolicies: [{ ...base, ...statement }] }));
    return p;
  }
  const run = async (p: string, dir = layout): Promise<VerificationReport> =>
    verify(`oci:${dir}:v1`, { sources: { trustPolicy: p, trustStore: store, defaults: false } });
  const thresholdOf = (r: VerificationReport) => r.requirements[0]!.checks.find((c) => c.name === 'threshold');

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'signet-threshold-'));
    layout = join(work, 'layout');
    await cp(join(V, 'oci-layout', 'e2e-valid-multiple-signatures'), layout, { recursive: true });
    store = join(work, 'truststore');
    await cp(join(V, 'truststore'), store, { recursive: true });
    keys = new KeyStore(join(work, 'home'));
    const root = await keys.generate('root', { type: 'ecdsa-p256', ca: true, subject: 'CN=Root,O=T,ST=WA,C=US' });
    await keys.generate('a', { type: 'ecdsa-p256', issuer: 'root', subject: 'CN=A,O=T,ST=WA,C=US' });
    await keys.generate('b', { type: 'rsa-3072', issuer: 'root', subject: 'CN=B,O=T,ST=WA,C=US' });
    await keys.generate('c', { type: 'ecdsa-p384', issuer: 'root', subject: 'CN=C,O=T,ST=WA,C=US' });
    await mkdir(join(store, 'x509', 'ca', 'mine'), { recursive: true });
    await writeFile(join(store, 'x509', 'ca', 'mine', 'root.pem'), toPem([root.chain[0]!]));
  }, 60_000);
  afterAll(async () => rm(work, { recursive: true, force: true }));

  it("2 of 3: one valid signature fails (notation's), two pass, three pass; the CLI names the threshold check", async () => {
    const p = await policy('two-of-three', { signatureThreshold: 2 });
    const one = await run(p);
    expect(one.verdict).toBe('failed');
    expect(one.signatures.filter((s) => s.verdict === 'verified')).toHaveLength(1);
    expect(thresholdOf(one)).toMatchObject({
      outcome: 'fail',
      reason: expect.stringMatching(
        /^1 of 2 required valid signature\(s\) by distinct signing keys \(2 signature\(s\) found\)/
      ),
    });
    const cli = await runSignet(['verify', `oci:${layout}:v1`, '--policy', p, '--trust-store', store]);
    expect(cli.code).toBe(1);
    expect(cli.stdout).toMatch(/threshold check failed: 1 of 2 required/);

    await sign(`oci:${layout}:v1`, { keyStore: keys, key: 'a' });
    const two = await run(p);
    expect(two.verdict, JSON.stringify(two.requirements)).toBe('verified');
    expect(thresholdOf(two)).toMatchObject({ outcome: 'pass', reason: expect.stringMatching(/^2 of 2/) });
    expect(two.requirements[0]!.by).toHaveLength(2);

    await sign(`oci:${layout}:v1`, { keyStore: keys, key: 'b', signatureFormat: 'cose' });
    const three = await run(p);
    expect(three.verdict).toBe('verified');
    expect(thresholdOf(three)?.reason).toMatch(/^3 of 2/);
    expect(new Set(three.signatures.filter((s) => s.verdict === 'verified').map((s) => s.keyId)).size).toBe(3);
    expect((await run(await policy('three', { signatureThreshold: 3 }))).verdict).toBe('verified');
    const four = await run(await policy('four', { signatureThreshold: 4 }));
    expect(four.verdict).toBe('failed');
    expect(thresholdOf(four)?.reason).toMatch(/^3 of 4/);
    // at the audit level a shortfall is logged, as every other check
    const audit = await run(
      await policy('audit', { signatureThreshold: 4, signatureVerification: { level: 'audit' } })
    );
    expect(audit.verdict).toBe('verified');
    expect(thresholdOf(audit)?.outcome).toBe('logged');
  });

  it('requiredIdentities: each listed identity must have a valid signature', async () => {
    const dir = join(work, 'required');
    await cp(join(V, 'oci-layout', 'e2e-valid-multiple-signatures'), dir, { recursive: true });
    await sign(`oci:${dir}:v1`, { keyStore: keys, key: 'a' });
    const p = await policy('required', { requiredIdentities: [ID('A'), ID('C')] });
    const missing = await run(p, dir);
    expect(missing.verdict).toBe('failed');
    expect(thresholdOf(missing)?.reason).toMatch(
      /no valid signature by the required identity "x509\.subject: CN=C,O=T,ST=WA,C=US"/
    );
    await sign(`oci:${dir}:v1`, { keyStore: keys, key: 'c' });
    expect((await run(p, dir)).verdict).toBe('verified');
  });

  it('rotation: during the overlap either identity verifies; once the old one is removed its signatures are refused', async () => {
    const oldOnly = join(work, 'old');
    const newOnly = join(work, 'new');
    for (const [dir, key] of [
      [oldOnly, 'a'],
      [newOnly, 'b'],
    ] as const) {
      await mkdir(dir, { recursive: true });
      await cp(join(V, 'oci-layout', 'e2e'), dir, { recursive: true });
      await sign(`oci:${dir}:v1`, { keyStore: keys, key });
    }
    const overlap = await policy('overlap', { trustStores: ['ca:mine'], trustedIdentities: [ID('A'), ID('B')] });
    expect((await run(overlap, oldOnly)).verdict).toBe('verified');
    expect((await run(overlap, newOnly)).verdict).toBe('verified');
    const after = await policy('after', { trustStores: ['ca:mine'], trustedIdentities: [ID('B')] });
    const refused = await run(after, oldOnly);
    expect(refused.verdict).toBe('failed');
    expect(refused.signatures[0]!.checks.find((c) => c.outcome === 'fail')).toMatchObject({
      name: 'authenticity',
      reason: expect.stringMatching(/does not match any trusted identity/),
    });
    expect((await run(after, newOnly)).verdict).toBe('verified');
  });

  it('policy documents: unknown fields are refused and named; thresholds are validated', async () => {
    const typo = await policy('typo', { trustedIdentity: ['*'] });
    const r = await runSignet(['verify', `oci:${layout}:v1`, '--policy', typo, '--trust-store', store]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/trustedIdentity/);
    await expect(run(await policy('zero', { signatureThreshold: 0 }))).rejects.toThrow(/signatureThreshold/);
  });
});
