import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toPem } from '../../src/pki/index.ts';
import { JWS_MEDIA_TYPE, signEnvelope, type PrimitiveSigner } from '../../src/signature/index.ts';
import { verifyEnvelope } from '../../src/trust/index.ts';
import { startRevocationPki, type RevocationPki } from '../helpers/revocation.ts';

const subject = {
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  digest: `sha256:${'d'.repeat(64)}`,
  size: 99,
};
const reference = `registry.example.com/app@${subject.digest}`;

describe('revocation: OCSP (openssl ocsp) and CRL (openssl ca -gencrl) on 127.0.0.1', () => {
  let pki: RevocationPki;
  let work: string;
  let store: string;
  const policy = (level: 'strict' | 'permissive') => ({
    version: '1.0',
    trustPolicies: [
      {
        name: 'p',
        registryScopes: ['*'],
        signatureVerification: { level },
        trustStores: ['ca:r'],
        trustedIdentities: ['*'],
      },
    ],
  });
  const check = async (signer: PrimitiveSigner, level: 'strict' | 'permissive' = 'strict', now?: Date) => {
    const envelope = await signEnvelope({ target: subject, signer }, JWS_MEDIA_TYPE);
    return verifyEnvelope({
      envelope,
      mediaType: JWS_MEDIA_TYPE,
      subject,
      reference,
      trustPolicy: policy(level),
      trustStore: store,
      ...(now ? { now } : {}),
    });
  };
  const revocationResult = (r: Awaited<ReturnType<typeof check>>) => r.results.find((x) => x.type === 'revocation');

  beforeAll(async () => {
    pki = await startRevocationPki();
    work = await mkdtemp(join(tmpdir(), 'signet-rev-'));
    store = join(work, 'store');
    await mkdir(join(store, 'x509', 'ca', 'r'), { recursive: true });
    await writeFile(join(store, 'x509', 'ca', 'r', 'root.pem'), toPem([pki.root]));
  });
  afterAll(async () => {
    await pki?.close();
    await rm(work, { recursive: true, force: true });
  });

  it('OCSP: good passes, revoked fails, unknown follows the level', async () => {
    expect((await check(pki.good)).verified).toBe(true);
    const revoked = await check(pki.revoked);
    expect(revoked.verified).toBe(false);
    expect(revocationResult(revoked)).toMatchObject({
      action: 'enforce',
      ok: false,
      message: expect.stringMatching(/is revoked \(OCSP/),
    });
    const unknown = await check(pki.unknown);
    expect(unknown.verified).toBe(false);
    expect(revocationResult(unknown)?.message).toMatch(/does not know/);
    const unknownPermissive = await check(pki.unknown, 'permissive');
    expect(unknownPermissive.verified).toBe(true);
    expect(revocationResult(unknownPermissive)).toMatchObject({ action: 'log', ok: false });
  });

  it('CRL: good passes, revoked fails', async () => {
    expect((await check(pki.crlGood)).verified).toBe(true);
    const r = await check(pki.crlRevoked);
    expect(r.verified).toBe(false);
    expect(revocationResult(r)?.message).toMatch(/is revoked \(CRL/);
  });

  it('signing authority: a certificate revoked with an invalidity date after the authentic signing time still verifies', async () => {
    const { signPayload, buildPayload } = await import('../../src/signature/index.ts');
    await mkdir(join(store, 'x509', 'signingAuthority', 'r'), { recursive: true });
    await writeFile(join(store, 'x509', 'signingAuthority', 'r', 'root.pem'), toPem([pki.root]));
    const saPolicy = {
      version: '1.0',
      trustPolicies: [
        {
          name: 'p',
          registryScopes: ['*'],
          signatureVerification: { level: 'strict' },
          trustStores: ['signingAuthority:r'],
          trustedIdentities: ['*'],
        },
      ],
    };
    const signedAt = new Date(Date.now() - 12 * 3600_000);
    const run = async (signer: PrimitiveSigner) => {
      const envelope = await signPayload(buildPayload(subject, 'jws'), JWS_MEDIA_TYPE, {
        signer,
        signingScheme: 'notary.x509.signingAuthority',
        signingTime: signedAt,
      });
      return verifyEnvelope({
        envelope,
        mediaType: JWS_MEDIA_TYPE,
        subject,
        reference,
        trustPolicy: saPolicy,
        trustStore: store,
      });
    };
    const later = await run(pki.saLater);
    expect(later.verified, JSON.stringify(later.results)).toBe(true);
    expect(revocationResult(later)?.message).toMatch(/after the authentic signing time/);
    const earlier = await run(pki.saEarlier);
    expect(earlier.verified).toBe(false);
    expect(revocationResult(earlier)?.message).toMatch(/is revoked \(CRL/);
    // the same certificate in a notary.x509 signature is simply revoked
    expect((await check(pki.saLater)).verified).toBe(false);
  });

  it('delta CRLs: a certificate revoked only in the delta is revoked', async () => {
    expect((await check(pki.deltaGood)).verified).toBe(true);
    const r = await check(pki.deltaRevoked);
    expect(r.verified).toBe(false);
    expect(revocationResult(r)?.message).toMatch(/is revoked \(delta CRL/);
  });

  it('a CRL signed by the wrong key, or past its nextUpdate, is refused', async () => {
    await pki.crlMode('wrong-key');
    const wrong = await check(pki.crlGood);
    expect(wrong.verified).toBe(false);
    expect(revocationResult(wrong)?.message).toMatch(/not signed by the issuer/);
    await pki.crlMode('short');
    const stale = await check(pki.crlGood, 'strict', new Date(Date.now() + 2 * 3600_000));
    expect(stale.verified).toBe(false);
    expect(revocationResult(stale)?.message).toMatch(/has expired \(nextUpdate/);
    await pki.crlMode('good');
    expect((await check(pki.crlGood)).verified).toBe(true);
  });

  it('cache and offline mode: a warm cache answers while the responder is down; bundled CRLs work offline', async () => {
    const { MemoryRevocationCache } = await import('../../src/pki/index.ts');
    const cache = new MemoryRevocationCache();
    const envelope = await signEnvelope({ target: subject, signer: pki.good }, JWS_MEDIA_TYPE);
    const run = (opts: object) =>
      verifyEnvelope(
        { envelope, mediaType: JWS_MEDIA_TYPE, subject, reference, trustPolicy: policy('strict'), trustStore: store },
        { revocationOptions: opts }
      );
    expect((await run({ cache })).verified).toBe(true); // warms the cache
    await pki.down();
    try {
      expect((await run({ cache, offline: true })).verified).toBe(true);
      await expect(run({ offline: true })).rejects.toMatchObject({ kind: 'inconclusive' });
      const { readFile } = await import('node:fs/promises');
      const bundle = [await readFile(pki.crlFile)];
      const revokedEnv = await signEnvelope({ target: subject, signer: pki.crlRevoked }, JWS_MEDIA_TYPE);
      const r = await verifyEnvelope(
        {
          envelope: revokedEnv,
          mediaType: JWS_MEDIA_TYPE,
          subject,
          reference,
          trustPolicy: policy('strict'),
          trustStore: store,
        },
        { revocationOptions: { offline: true, bundle } }
      );
      expect(r.verified).toBe(false);
      expect(revocationResult(r)?.message).toMatch(/is revoked \(CRL/);
      const goodEnv = await signEnvelope({ target: subject, signer: pki.crlGood }, JWS_MEDIA_TYPE);
      expect(
        (
          await verifyEnvelope(
            {
              envelope: goodEnv,
              mediaType: JWS_MEDIA_TYPE,
              subject,
              reference,
              trustPolicy: policy('strict'),
              trustStore: store,
            },
            { revocationOptions: { offline: true, bundle } }
          )
        ).verified
      ).toBe(true);
    } finally {
      await pki.up();
    }
  });

  it('a responder that is down: inconclusive at strict, a logged warning at permissive', async () => {
    await pki.down();
    await expect(check(pki.good)).rejects.toMatchObject({ code: 'VERIFICATION_INCONCLUSIVE', kind: 'inconclusive' });
    const r = await check(pki.good, 'permissive');
    expect(r.verified).toBe(true);
    expect(revocationResult(r)).toMatchObject({
      action: 'log',
      ok: false,
      message: expect.stringMatching(/unreachable|cannot be downloaded/),
    });
  });
});
