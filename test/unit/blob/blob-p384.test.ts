import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { signBlob, verifyBlob } from '../../../src/index.ts';
import { digestOf, isValidDigest, MediaType, parseDigest, parseManifest } from '../../../src/oci/index.ts';
import { toPem } from '../../../src/pki/index.ts';
import { loadBlobTrustPolicy } from '../../../src/trust/policy.ts';
import { makeChain, type TestChain } from '../../helpers/pki.ts';

let dir: string;
let chain: TestChain;

const policy = loadBlobTrustPolicy({
  version: '1.0',
  trustPolicies: [
    {
      name: 'blobs',
      globalPolicy: true,
      signatureVerification: { level: 'strict', override: { revocation: 'skip' } },
      trustStores: ['ca:p384'],
      trustedIdentities: ['*'],
    },
  ],
});

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'signet-blob-p384-'));
  chain = await makeChain({ leafType: 'ecdsa-p384' });
  const store = join(dir, 'truststore', 'x509', 'ca', 'p384');
  await mkdir(store, { recursive: true });
  await writeFile(join(store, 'root.pem'), toPem([chain.root]));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('blob signatures with an ECDSA P-384 key (digest algorithm follows the key)', () => {
  const title = '%s: signs with a sha384 digest, verifies, and a tampered file fails';
  it.each(['jws', 'cose'] as const)(title, async (format) => {
    const file = join(dir, `payload-${format}.bin`);
    await writeFile(file, randomBytes(4096));
    const { signaturePath, target } = await signBlob(file, { signer: chain.signer, signatureFormat: format });
    expect(target.digest).toMatch(/^sha384:[a-f0-9]{96}$/);
    expect(signaturePath).toBe(`${file}.${format}.sig`);
    const envelope = await readFile(signaturePath);
    expect(envelope.length).toBeGreaterThan(0);

    const trustStore = join(dir, 'truststore');
    const ok = await verifyBlob(file, signaturePath, { trustPolicy: policy, trustStore });
    expect(ok.signatures[0]!.checks.filter((c) => c.outcome !== 'pass')).toEqual([]);
    expect(ok.verdict).toBe('verified');
    expect(ok.digest).toMatch(/^sha384:/);

    await appendFile(file, Buffer.from([0]));
    const bad = await verifyBlob(file, signaturePath, { trustPolicy: policy, trustStore });
    expect(bad.verdict).toBe('failed');
    expect(bad.signatures[0]!.checks.find((c) => c.outcome === 'fail')?.name).toMatch(/subject|integrity/);
  });
});

describe('sha384 stays out of registry digests', () => {
  const d384 = digestOf('x', 'sha384');
  it('a registry digest (references, storage, fetches) is still sha256 or sha512 only', () => {
    expect(d384).toMatch(/^sha384:[a-f0-9]{96}$/);
    expect(isValidDigest(d384)).toBe(false);
    expect(() => parseDigest(d384)).toThrow(/unsupported digest algorithm "sha384" \(want sha256 or sha512\)/);
  });
  it('an image manifest whose layer has a sha384 digest is refused', () => {
    const manifest = {
      schemaVersion: 2,
      mediaType: MediaType.ImageManifest,
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: digestOf('{}'), size: 2 },
      layers: [{ mediaType: 'application/octet-stream', digest: d384, size: 1 }],
    };
    const bytes = Buffer.from(JSON.stringify(manifest));
    expect(() => parseManifest(bytes, MediaType.ImageManifest)).toThrow(/layers\.0\.digest/);
  });
});
