import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toPem, requestTimestamp } from '../../src/pki/index.ts';
import { COSE_MEDIA_TYPE, JWS_MEDIA_TYPE, parseEnvelope, signEnvelope } from '../../src/signature/index.ts';
import { loadTrustPolicy, verifyEnvelope } from '../../src/trust/index.ts';
import { makeChain, type TestChain } from '../helpers/pki.ts';
import { forgeToken, startTsa, type Tsa } from '../helpers/tsa.ts';

const DAY = 86_400_000;
const subject = {
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  digest: `sha256:${'c'.repeat(64)}`,
  size: 321,
};
const reference = `registry.example.com/app@${subject.digest}`;

describe('RFC 3161 timestamps (openssl ts as the TSA)', () => {
  let work: string;
  let tsa: Tsa;
  let badTsa: Tsa;
  let shortLived: TestChain;
  let store: string;
  const policy = (verifyTimestamp: 'always' | 'afterCertExpiry', tsaStore = 'tsa:t') => ({
    version: '1.0',
    trustPolicies: [
      {
        name: 'p',
        registryScopes: ['*'],
        signatureVerification: { level: 'strict', verifyTimestamp },
        trustStores: ['ca:c', tsaStore],
        trustedIdentities: ['*'],
      },
    ],
  });
  const later = () => new Date(Date.now() + 3 * DAY); // after the signing certificate expired

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'signet-ts-'));
    tsa = await startTsa();
    badTsa = await startTsa({ eku: 'codeSigning' });
    shortLived = await makeChain({ notBefore: new Date(Date.now() - DAY), notAfter: new Date(Date.now() + DAY) });
    store = join(work, 'store');
    for (const [type, name, cert] of [
      ['ca', 'c', shortLived.root],
      ['tsa', 't', tsa.root],
      ['tsa', 'other', badTsa.root],
    ] as const) {
      await mkdir(join(store, 'x509', type, name), { recursive: true });
      await writeFile(join(store, 'x509', type, name, 'root.pem'), toPem([cert]));
    }
    loadTrustPolicy(policy('always'));
  });
  afterAll(async () => {
    await tsa?.close();
    await badTsa?.close();
    await rm(work, { recursive: true, force: true });
  });

  const stamp = (t: Tsa) => (sig: Uint8Array, hash: 'SHA-256' | 'SHA-384' | 'SHA-512') =>
    requestTimestamp(t.url, sig, hash, [t.root]);

  it.each([JWS_MEDIA_TYPE, COSE_MEDIA_TYPE] as const)(
    '%s: a timestamped signature verifies after its certificate expired; without the timestamp it fails',
    async (mt) => {
      const env = await signEnvelope({ target: subject, signer: shortLived.signer, timestamp: stamp(tsa) }, mt);
      expect(parseEnvelope(env, mt).signerInfo.timestampSignature?.length).toBeGreaterThan(100);
      const ok = await verifyEnvelope({
        envelope: env,
        mediaType: mt,
        subject,
        reference,
        trustPolicy: policy('afterCertExpiry'),
        trustStore: store,
        now: later(),
      });
      expect(ok.verified, JSON.stringify(ok.results)).toBe(true);
      expect(ok.results.find((r) => r.type === 'authenticTimestamp')?.message).toMatch(/timestamped at/);
      const bare = await signEnvelope({ target: subject, signer: shortLived.signer }, mt);
      const no = await verifyEnvelope({
        envelope: bare,
        mediaType: mt,
        subject,
        reference,
        trustPolicy: policy('afterCertExpiry'),
        trustStore: store,
        now: later(),
      });
      expect(no.verified).toBe(false);
      expect(no.results.find((r) => !r.ok)).toMatchObject({
        type: 'authenticTimestamp',
        message: expect.stringMatching(/no timestamp countersignature/),
      });
      // while the certificate is valid, afterCertExpiry does not even need the token
      expect(
        (
          await verifyEnvelope({
            envelope: bare,
            mediaType: mt,
            subject,
            reference,
            trustPolicy: policy('afterCertExpiry'),
            trustStore: store,
          })
        ).verified
      ).toBe(true);
    }
  );

  it('a token for another signature fails', async () => {
    const a = JSON.parse(
      Buffer.from(
        await signEnvelope({ target: subject, signer: shortLived.signer, timestamp: stamp(tsa) }, JWS_MEDIA_TYPE)
      ).toString()
    );
    const b = JSON.parse(
      Buffer.from(
        await signEnvelope(
          { target: { ...subject, size: 322 }, signer: shortLived.signer, timestamp: stamp(tsa) },
          JWS_MEDIA_TYPE
        )
      ).toString()
    );
    a.header['io.cncf.notary.timestampSignature'] = b.header['io.cncf.notary.timestampSignature'];
    const r = await verifyEnvelope({
      envelope: Buffer.from(JSON.stringify(a)),
      mediaType: JWS_MEDIA_TYPE,
      subject,
      reference,
      trustPolicy: policy('always'),
      trustStore: store,
    });
    expect(r.verified).toBe(false);
    expect(r.results.find((x) => !x.ok)?.message).toMatch(/for another signature/);
  });

  it('a corrupted token fails', async () => {
    const a = JSON.parse(
      Buffer.from(
        await signEnvelope({ target: subject, signer: shortLived.signer, timestamp: stamp(tsa) }, JWS_MEDIA_TYPE)
      ).toString()
    );
    const tok = Buffer.from(a.header['io.cncf.notary.timestampSignature'], 'base64');
    tok[tok.length - 10] = tok[tok.length - 10]! ^ 0xff;
    a.header['io.cncf.notary.timestampSignature'] = tok.toString('base64');
    const r = await verifyEnvelope({
      envelope: Buffer.from(JSON.stringify(a)),
      mediaType: JWS_MEDIA_TYPE,
      subject,
      reference,
      trustPolicy: policy('always'),
      trustStore: store,
    });
    expect(r.verified).toBe(false);
    expect(r.results.find((x) => !x.ok)?.type).toBe('authenticTimestamp');
  });

  it('a TSA certificate whose revocation status cannot be established fails the timestamp', async () => {
    const pkijs = await import('pkijs');
    const aia = new pkijs.InfoAccess({
      accessDescriptions: [
        new pkijs.AccessDescription({
          accessMethod: '1.3.6.1.5.5.7.48.1',
          accessLocation: new pkijs.GeneralName({ type: 6, value: 'http://127.0.0.1:9/ocsp' }),
        }),
      ],
    });
    const ext = new pkijs.Extension({
      extnID: '1.3.6.1.5.5.7.1.1',
      critical: false,
      extnValue: aia.toSchema().toBER(false),
    });
    let root: import('node:crypto').X509Certificate | undefined;
    const env = await signEnvelope(
      {
        target: subject,
        signer: shortLived.signer,
        timestamp: async (sig) => {
          const f = await forgeToken(sig, 'timeStamping', [ext]);
          root = f.root;
          return f.token;
        },
      },
      JWS_MEDIA_TYPE
    );
    await mkdir(join(store, 'x509', 'tsa', 'revocable'), { recursive: true });
    await writeFile(join(store, 'x509', 'tsa', 'revocable', 'root.pem'), toPem([root!]));
    const r = await verifyEnvelope({
      envelope: env,
      mediaType: JWS_MEDIA_TYPE,
      subject,
      reference,
      trustPolicy: policy('always', 'tsa:revocable'),
      trustStore: store,
    });
    expect(r.verified).toBe(false);
    expect(r.results.find((x) => !x.ok)).toMatchObject({
      type: 'authenticTimestamp',
      message: expect.stringMatching(/TSA certificate revocation: OCSP responder .* is unreachable/),
    });
  });

  it('a TSA not in the tsa store fails; a TSA certificate without the timestamping EKU fails', async () => {
    const env = await signEnvelope(
      { target: subject, signer: shortLived.signer, timestamp: stamp(tsa) },
      JWS_MEDIA_TYPE
    );
    const r = await verifyEnvelope({
      envelope: env,
      mediaType: JWS_MEDIA_TYPE,
      subject,
      reference,
      trustPolicy: policy('always', 'tsa:other'),
      trustStore: store,
    });
    expect(r.results.find((x) => !x.ok)?.message).toMatch(/does not chain to a certificate of the tsa trust store/);
    // openssl refuses to run a TSA whose certificate lacks the timestamping EKU: signing fails...
    await expect(
      signEnvelope({ target: subject, signer: shortLived.signer, timestamp: stamp(badTsa) }, JWS_MEDIA_TYPE)
    ).rejects.toThrow(/timestamp authority .* answered HTTP 500/);
    // ...and a token forged with such a certificate is refused by the verifier, naming the rule
    let forgedRoot: import('node:crypto').X509Certificate | undefined;
    const env2 = await signEnvelope(
      {
        target: subject,
        signer: shortLived.signer,
        timestamp: async (sig) => {
          const f = await forgeToken(sig, 'codeSigning');
          forgedRoot = f.root;
          return f.token;
        },
      },
      JWS_MEDIA_TYPE
    );
    await mkdir(join(store, 'x509', 'tsa', 'forged'), { recursive: true });
    await writeFile(join(store, 'x509', 'tsa', 'forged', 'root.pem'), toPem([forgedRoot!]));
    const r2 = await verifyEnvelope({
      envelope: env2,
      mediaType: JWS_MEDIA_TYPE,
      subject,
      reference,
      trustPolicy: policy('always', 'tsa:forged'),
      trustStore: store,
    });
    expect(r2.verified).toBe(false);
    expect(r2.results.find((x) => !x.ok)?.message).toMatch(
      /extendedKeyUsage must be critical and contain only timeStamping/
    );
    // the same forgery with a proper timestamping certificate passes: the check above is what refused it
    let okRoot: import('node:crypto').X509Certificate | undefined;
    const env3 = await signEnvelope(
      {
        target: subject,
        signer: shortLived.signer,
        timestamp: async (sig) => {
          const f = await forgeToken(sig, 'timeStamping');
          okRoot = f.root;
          return f.token;
        },
      },
      JWS_MEDIA_TYPE
    );
    await mkdir(join(store, 'x509', 'tsa', 'forged2'), { recursive: true });
    await writeFile(join(store, 'x509', 'tsa', 'forged2', 'root.pem'), toPem([okRoot!]));
    expect(
      (
        await verifyEnvelope({
          envelope: env3,
          mediaType: JWS_MEDIA_TYPE,
          subject,
          reference,
          trustPolicy: policy('always', 'tsa:forged2'),
          trustStore: store,
        })
      ).verified
    ).toBe(true);
  });
});
