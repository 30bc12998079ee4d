import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { certificateFromDer, toPem } from '../../../src/pki/index.ts';
import { JWS_MEDIA_TYPE, signEnvelope } from '../../../src/signature/index.ts';
import { verifyEnvelope } from '../../../src/trust/index.ts';
import { digestOf } from '../../../src/oci/index.ts';
import { refusal } from '../../helpers/errors.ts';
import { makeChain, type TestChain } from '../../helpers/pki.ts';

let chain: TestChain;
let dir: string;

beforeAll(async () => {
  chain = await makeChain({ intermediate: true });
  dir = await mkdtemp(join(tmpdir(), 'signet-x509-trailing-'));
  const store = join(dir, 'x509', 'ca', 'test');
  await mkdir(store, { recursive: true });
  await writeFile(join(store, 'root.pem'), toPem([chain.root]));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('certificate DER with trailing bytes', () => {
  it('the certificate alone is accepted, as bytes and as base64', () => {
    const der = chain.chain[1]!.raw;
    expect(certificateFromDer(new Uint8Array(der)).fingerprint256).toBe(chain.chain[1]!.fingerprint256);
    expect(certificateFromDer(der.toString('base64')).fingerprint256).toBe(chain.chain[1]!.fingerprint256);
  });

  it.each([1, 3, 200])('the same certificate with %i byte(s) appended is refused, naming it', (n) => {
    const der = Buffer.concat([chain.chain[1]!.raw, Buffer.alloc(n, 0x30)]);
    const bytes = refusal(() => certificateFromDer(der, 'x5c[1]'));
    expect(bytes.code).toBe('CERT_INVALID');
    expect(bytes.kind).toBe('failed');
    expect(bytes.message).toContain('x5c[1]');
    expect(bytes.message).toMatch(new RegExp(`${n} trailing byte`));
    // the base64 form (how x5c carries it) too; the clean form was cached first and must not mask it
    expect(() => certificateFromDer(der.toString('base64'), 'x5c[1]')).toThrow(/x5c\[1\] has \d+ trailing byte/);
  });

  it('a truncated certificate and an indefinite-length (BER) one are refused', () => {
    const der = chain.chain[0]!.raw;
    expect(() => certificateFromDer(der.subarray(0, der.length - 1), 'x5c[0]')).toThrow(/x5c\[0\] is truncated/);
    const header = der[1]! < 0x80 ? 2 : 2 + (der[1]! & 0x7f);
    const ber = Buffer.concat([Buffer.from([0x30, 0x80]), der.subarray(header), Buffer.from([0, 0])]);
    expect(() => certificateFromDer(ber, 'x5c[0]')).toThrow(/indefinite length/);
  });
});

describe('a JWS envelope whose x5c leaf has trailing bytes', () => {
  const subject = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: digestOf('manifest'), size: 8 };
  const trustPolicy = {
    version: '1.0',
    trustPolicies: [
      {
        name: 'all',
        registryScopes: ['*'],
        signatureVerification: { level: 'strict', override: { revocation: 'skip' } },
        trustStores: ['ca:test'],
        trustedIdentities: ['*'],
      },
    ],
  };
  const input = (envelope: Uint8Array) => ({
    envelope,
    mediaType: JWS_MEDIA_TYPE,
    subject,
    reference: `registry.example/app@${subject.digest}`,
    trustPolicy,
    trustStore: dir,
  });

  it('verifies untouched and fails integrity with the padded leaf, naming x5c[0]', async () => {
    const request = { target: subject, signer: chain.signer, signingTime: new Date() };
    const envelope = await signEnvelope(request, JWS_MEDIA_TYPE);
    const good = await verifyEnvelope(input(envelope));
    expect(good.results.filter((r) => !r.ok)).toEqual([]);
    expect(good.verified).toBe(true);

    const jws = JSON.parse(Buffer.from(envelope).toString('utf8')) as { header: { x5c: string[] } };
    const leaf = Buffer.from(jws.header.x5c[0]!, 'base64');
    jws.header.x5c[0] = Buffer.concat([leaf, Buffer.from([0x05, 0x00])]).toString('base64');
    const padded = Buffer.from(JSON.stringify(jws));
    const bad = await verifyEnvelope(input(padded));
    expect(bad.verified).toBe(false);
    const failure = bad.results.find((r) => !r.ok);
    expect(failure?.type).toBe('integrity');
    expect(failure?.message).toMatch(/x5c\[0\].*2 trailing bytes/);
  });
});
