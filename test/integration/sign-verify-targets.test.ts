import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { copy } from '../../src/copy/index.ts';
import { KEY_TYPES, KeyStore, toPem } from '../../src/pki/index.ts';
import { sign } from '../../src/sign/index.ts';
import { SIGNATURE_ARTIFACT_TYPE } from '../../src/signature/index.ts';
import { openTarget } from '../../src/store/index.ts';
import { loadTrustPolicy } from '../../src/trust/index.ts';
import { verify } from '../../src/verify/index.ts';
import { pushArtifact } from '../helpers/artifacts.ts';
import { startDistribution } from '../helpers/distribution.ts';
import { startServe, type Served } from '../helpers/serve.ts';

const FORMATS = ['jws', 'cose'] as const;
const combos = KEY_TYPES.flatMap((k) => FORMATS.map((f) => ({ key: k, format: f, tag: `${k}-${f}` })));

describe('sign → verify with every key type and both formats on every kind of target, and after signet copy', () => {
  let work: string;
  let keys: KeyStore;
  let serve: Served;
  let dist: { host: string; close(): Promise<void> };
  let trustStore: string;
  const policy = loadTrustPolicy({
    version: '1.0',
    trustPolicies: [
      {
        name: 'all',
        registryScopes: ['*'],
        signatureVerification: { level: 'strict' },
        trustStores: ['ca:rt'],
        trustedIdentities: ['x509.subject: O=Signet Test, ST=WA, C=US'],
      },
    ],
  });

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'signet-roundtrip-'));
    keys = new KeyStore(join(work, 'home'));
    await keys.generate('root', {
      type: 'ecdsa-p384',
      ca: true,
      subject: 'CN=Round Trip Root,O=Signet Test,ST=WA,C=US',
    });
    await keys.generate('inter', {
      type: 'rsa-3072',
      ca: true,
      issuer: 'root',
      subject: 'CN=Round Trip CA,O=Signet Test,ST=WA,C=US',
    });
    for (const k of KEY_TYPES)
      await keys.generate(k, { type: k, issuer: 'inter', subject: `CN=${k},O=Signet Test,ST=WA,C=US` });
    trustStore = join(work, 'truststore');
    await mkdir(join(trustStore, 'x509', 'ca', 'rt'), { recursive: true });
    await writeFile(
      join(trustStore, 'x509', 'ca', 'rt', 'root.pem'),
      toPem([(await keys.certificateChain('root'))[0]!])
    );
    serve = await startServe();
    dist = await startDistribution();
  });
  afterAll(async () => {
    await serve?.close();
    await dist?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const targets = (): Record<string, string> => ({
    'signet serve': `${serve.host}/rt/app`,
    'docker-registry (tag schema)': `${dist.host}/rt/app`,
    'layout dir': `oci:${join(work, 'layout')}`,
    'layout tar': `oci:${join(work, 'layout.tar')}`,
  });

  async function signAll(base: string): Promise<void> {
    for (const c of combos) {
      const { target } = await openTarget(`${base}:${c.tag}`, { create: true });
      await pushArtifact(target, `artifact signed by ${c.tag}`, { tag: c.tag });
      await target.close();
      const [r] = await sign(`${base}:${c.tag}`, {
        key: c.key,
        signatureFormat: c.format,
        keyStore: keys,
        expirySeconds: 3600,
        userMetadata: { combo: c.tag },
      });
      expect(r!.signature.digest).toMatch(/^sha256:/);
    }
  }

  async function verifyAll(base: string): Promise<void> {
    for (const c of combos) {
      const v = await verify(`${base}:${c.tag}`, {
        sources: { trustPolicy: policy, trustStore, defaults: false },
        userMetadata: { combo: c.tag },
      });
      expect(v.verdict, `${base}:${c.tag} ${JSON.stringify(v)}`).toBe('verified');
      expect(v.signatures.find((s) => s.verdict === 'verified')?.mediaType).toBe(
        c.format === 'jws' ? 'application/jose+json' : 'application/cose'
      );
    }
  }

  it.each(['signet serve', 'docker-registry (tag schema)', 'layout dir', 'layout tar'])(
    '%s: 12 signatures made and verified',
    async (name) => {
      const base = targets()[name]!;
      await signAll(base);
      await verifyAll(base);
    }
  );

  it('signatures survive signet copy across all four (serve → docker-registry → dir → tar → serve)', async () => {
    const hops = [
      `${serve.host}/rt/app`,
      `${dist.host}/copied/app`,
      `oci:${join(work, 'copied')}`,
      `oci:${join(work, 'copied.tar')}`,
      `${serve.host}/back/app`,
    ];
    for (let i = 0; i + 1 < hops.length; i++) {
      for (const c of combos) {
        const src = await openTarget(`${hops[i]}:${c.tag}`);
        const dst = await openTarget(`${hops[i + 1]}:${c.tag}`, { create: true });
        await copy(src.target, c.tag, dst.target, c.tag);
        await src.target.close();
        await dst.target.close();
      }
      await verifyAll(hops[i + 1]!);
      // exactly the one signature per artifact arrived, nothing lost or duplicated
      const { target } = await openTarget(`${hops[i + 1]}:${combos[0]!.tag}`);
      const root = await target.resolve(combos[0]!.tag);
      expect(await target.referrers(root, SIGNATURE_ARTIFACT_TYPE)).toHaveLength(1);
      await target.close();
    }
  });

  it('a signature for one artifact does not verify another', async () => {
    const v = await verify(`${serve.host}/rt/app:${combos[0]!.tag}`, {
      sources: { trustPolicy: policy, trustStore, defaults: false },
      userMetadata: { combo: combos[1]!.tag },
    });
    expect(v.verdict).toBe('failed');
    expect(v.signatures[0]!.checks.at(-1)).toMatchObject({ name: 'user-metadata', outcome: 'fail' });
  });
});
