import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeyStore, toPem } from '../../src/pki/index.ts';
import { sign, signCosign, signSimple } from '../../src/sign/index.ts';
import { RegistryTarget } from '../../src/store/index.ts';
import type { VerificationReport } from '../../src/verify/index.ts';
import { pushArtifact } from '../helpers/artifacts.ts';
import { runSignet, startServe, type Served } from '../helpers/serve.ts';

describe('one report: a Notary, a cosign and a simple signature of one image, judged in one verification', () => {
  let work: string;
  let serve: Served;
  let ref: string;
  let args: string[];

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'signet-one-report-'));
    serve = await startServe();
    const t = new RegistryTarget({ registry: serve.host, repository: 'team/app' });
    await pushArtifact(t, 'the image', { tag: 'v1' });
    await t.close();
    ref = `${serve.host}/team/app:v1`;
    const keys = new KeyStore(join(work, 'home'));
    const root = await keys.generate('root', { type: 'ecdsa-p256', ca: true, subject: 'CN=Root,O=T,ST=WA,C=US' });
    await keys.generate('release', { type: 'ecdsa-p256', issuer: 'root', subject: 'CN=release,O=T,ST=WA,C=US' });
    const cos = await keys.generate('cos', { type: 'ecdsa-p256', subject: 'CN=cos,O=T,ST=WA,C=US' });
    const gpg = await keys.generateGpg('gk', { type: 'gpg-ed25519' });
    await sign(ref, { keyStore: keys, key: 'release' });
    await signCosign(ref, cos.privateKey);
    const rd = join(work, 'registries.d');
    await mkdir(rd, { recursive: true });
    await writeFile(
      join(rd, 'default.yaml'),
      `docker:\n  ${serve.host}:\n    lookaside: file://${join(work, 'lookaside')}\n`
    );
    await signSimple(ref, { armoredKey: (await keys.gpgKey('gk')).armored, registriesD: rd });
    const store = join(work, 'store');
    await mkdir(join(store, 'x509', 'ca', 'rel'), { recursive: true });
    await writeFile(join(store, 'x509', 'ca', 'rel', 'root.pem'), toPem([root.chain[0]!]));
    const policy = join(work, 'trustpolicy.json');
    await writeFile(
      policy,
      JSON.stringify({
        version: '1.0',
        trustPolicies: [
          {
            name: 'team',
            registryScopes: [`${serve.host}/team/app`],
            signatureVerification: { level: 'strict' },
            trustStores: ['ca:rel'],
            trustedIdentities: ['x509.subject: CN=release,O=T,ST=WA,C=US'],
          },
        ],
      })
    );
    await writeFile(join(work, 'gk.pub'), gpg.publicKey);
    const containers = join(work, 'policy.json');
    await writeFile(
      containers,
      JSON.stringify({
        default: [{ type: 'reject' }],
        transports: {
          docker: { [`${serve.host}/team`]: [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: join(work, 'gk.pub') }] },
        },
      })
    );
    const { createPublicKey } = await import('node:crypto');
    await writeFile(join(work, 'cos.pub'), createPublicKey(cos.privateKey).export({ type: 'spki', format: 'pem' }));
    args = [
      '--policy',
      policy,
      '--trust-store',
      store,
      '--containers-policy',
      containers,
      '--registries-d',
      rd,
      '--cosign-key',
      join(work, 'cos.pub'),
    ];
  }, 60_000);
  afterAll(async () => {
    await serve?.close();
    await rm(work, { recursive: true, force: true });
  });

  it('-o json: all three families under one digest, each with its checks, each requirement satisfied by its own', async () => {
    const r = await runSignet(['verify', ref, ...args, '-o', 'json'], { env: { SIGNET_HOME: join(work, 'home') } });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const [report] = JSON.parse(r.stdout) as VerificationReport[];
    expect(report!.verdict).toBe('verified');
    expect(report!.reference).toBe(`${serve.host}/team/app@${report!.digest}`);
    const byFamily = Object.fromEntries(report!.signatures.map((s) => [s.family, s]));
    expect(Object.keys(byFamily).sort()).toEqual(['cosign', 'notary', 'simple']);
    for (const s of report!.signatures) {
      expect(s.verdict).toBe('verified');
      expect(s.checks.map((c) => c.name)).toEqual(expect.arrayContaining(['integrity', 'authenticity', 'subject']));
      expect(s.checks.every((c) => c.outcome === 'pass')).toBe(true);
    }
    expect(byFamily.notary!.signer).toBe('CN=release, O=T, ST=WA, C=US');
    expect(byFamily.cosign!.checks.find((c) => c.name === 'name-binding')?.reason).toBe(
      `signed for ${serve.host}/team/app`
    );
    expect(byFamily.simple!.checks.find((c) => c.name === 'name-binding')?.reason).toMatch(
      new RegExp(`signed identity ${serve.host}/team/app:v1`)
    );
    expect(report!.requirements.map((q) => [q.name, q.satisfied, q.by])).toEqual([
      ['trust-policy:team', true, [byFamily.notary!.digest]],
      [`containers-policy:${serve.host}/team[0] signedBy`, true, [byFamily.simple!.digest]],
      ['cosign-key', true, [byFamily.cosign!.digest]],
    ]);
  });

  it('-o text: the same as a tree; a missing family fails the requirement that needs it', async () => {
    const r = await runSignet(['verify', ref, ...args], { env: { SIGNET_HOME: join(work, 'home') } });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^✓ Verified .*@sha256:[0-9a-f]{64} \(trust-policy:team, containers-policy:.*signedBy, cosign-key\)/
    );
    for (const family of ['notary', 'cosign', 'simple'])
      expect(r.stdout).toMatch(new RegExp(`[├└]─ ${family} sha256:[0-9a-f]{64} .*: verified`));
    expect(r.stdout).toMatch(/requirement cosign-key: satisfied by sha256:/);
    // without the lookaside, the containers requirement has no simple signature: exit 1, named
    const noLookaside = args.filter((a, i) => a !== '--registries-d' && args[i - 1] !== '--registries-d');
    const f = await runSignet(['verify', ref, ...noLookaside], { env: { SIGNET_HOME: join(work, 'home') } });
    expect(f.code).toBe(1);
    expect(f.stdout).toMatch(
      /requirement containers-policy:.*signedBy: NOT satisfied\n.*threshold check failed: 0 of 1 required valid signature\(s\): no simple \(GPG\) signature/
    );
  });
});
