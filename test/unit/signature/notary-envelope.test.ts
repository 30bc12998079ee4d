import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decode, Tag } from 'cbor2';
import { createCertificate, generateKeyPair, KEY_TYPES } from '../../../src/pki/index.ts';
import {
  COSE_MEDIA_TYPE,
  JWS_MEDIA_TYPE,
  LocalKeySigner,
  parseEnvelope,
  signEnvelope,
  signPayload,
  verifyEnvelopeIntegrity,
} from '../../../src/signature/index.ts';
import { makeChain } from '../../helpers/pki.ts';

const V = join(import.meta.dirname, '../../fixtures/notary');
const read = (p: string): Buffer => readFileSync(join(V, p));
const target = {
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  digest: `sha256:${'ab'.repeat(32)}`,
  size: 517,
  annotations: { build: '42', 'a<b': 'x&y' },
};

describe('Notary Project envelopes', () => {
  describe('real vectors from the reference implementation', () => {
    it.each([
      ['jws/ca_valid_sig_env.json', JWS_MEDIA_TYPE, 'notary.x509'],
      ['jws/sa_valid_sig_env.json', JWS_MEDIA_TYPE, 'notary.x509.signingAuthority'],
      ['jws/ca_expired_sig_env.json', JWS_MEDIA_TYPE, 'notary.x509'],
      ['jws/alpine_oci_layout.jws.sig', JWS_MEDIA_TYPE, 'notary.x509'],
      ['cose/alpine_oci_layout.cose.sig', COSE_MEDIA_TYPE, 'notary.x509'],
    ])('%s verifies its integrity', async (file, mt, scheme) => {
      const c = await verifyEnvelopeIntegrity(read(file), mt);
      expect(c.signerInfo.signingScheme).toBe(scheme);
      expect(c.targetArtifact.digest).toMatch(/^sha256:/);
    });
    it.each(['jws/ca_invalid_sig_env.json', 'jws/sa_invalid_sig_env.json'])(
      '%s (tampered payload) fails integrity',
      async (file) => {
        await expect(verifyEnvelopeIntegrity(read(file), JWS_MEDIA_TYPE)).rejects.toMatchObject({ kind: 'failed' });
      }
    );
    it('the D1 JWS keeps its +08:00 signing time', async () => {
      const c = await verifyEnvelopeIntegrity(read('jws/alpine_oci_layout.jws.sig'), JWS_MEDIA_TYPE);
      expect(c.signerInfo.signingTime?.toISOString()).toBe('2023-03-14T08:10:02.000Z');
    });
  });

  describe('encoding conformance (H): the exact bytes the reference produces', () => {
    it('JWS: payload, protected header and unprotected header byte for byte', async () => {
      const h = JSON.parse(read('encoding/jws_conformance.json').toString()) as {
        payload: string;
        protected: string;
        header: Record<string, string>;
      };
      const { signer } = await makeChain({ leafType: 'ecdsa-p256', notBefore: new Date('2020-01-01T00:00:00Z') });
      const out = JSON.parse(
        Buffer.from(
          await signPayload(Buffer.from(h.payload, 'base64url'), JWS_MEDIA_TYPE, {
            signer,
            signingTime: new Date('2022-08-29T13:50:00Z'),
            expiry: new Date('2099-08-30T13:50:00Z'),
            signingAgent: 'NotationConformanceTest/1.0.0',
            extendedAttributes: [
              { key: 'signedCritKey1', value: 'signedCritValue1', critical: true },
              { key: 'signedKey1', value: 'signedValue1', critical: false },
              { key: 'signedKey2', value: 'signedValue1', critical: false },
              { key: 'signedKey3', value: 'signedValue1', critical: false },
              { key: 'signedKey4', value: 'signedValue1', critical: false },
            ],
          })
        ).toString()
      ) as Record<string, unknown>;
      expect(Object.keys(out)).toEqual(['payload', 'protected', 'header', 'signature']);
      expect(out.payload).toBe(h.payload);
      expect(out.protected).toBe(h.protected);
      const { x5c, ...rest } = out.header as Record<string, unknown>;
      expect(rest).toEqual(h.header);
      expect(Array.isArray(x5c)).toBe(true);
    });

    it('COSE: the protected header bytes and the message structure', async () => {
      const h = JSON.parse(read('encoding/cose_conformance.json').toString()) as {
        signingTime: number;
        expiry: number;
        payload: string;
        protectedHeaders: { cborHex: string };
        expectedOutput: { cborHex: string };
      };
      const { signer } = await makeChain({ leafType: 'rsa-3072', notBefore: new Date('2020-01-01T00:00:00Z') });
      const out = await signPayload(Buffer.from(h.payload, 'hex'), COSE_MEDIA_TYPE, {
        signer,
        signingTime: new Date(h.signingTime * 1000),
        expiry: new Date(h.expiry * 1000),
        signingAgent: 'NotationConformanceTest/1.0.0',
        extendedAttributes: [
          { key: 'signedKey1', value: 'signedValue1', critical: false },
          { key: 'signedCritKey1', value: 'signedCritValue1', critical: true },
        ],
      });
      const msg = decode(out, { preferMap: true }) as Tag;
      const expected = decode(Buffer.from(h.expectedOutput.cborHex, 'hex'), { preferMap: true }) as Tag;
      expect(msg.tag).toBe(18);
      const [prot, unprot, payload] = msg.contents as [Uint8Array, Map<unknown, unknown>, Uint8Array];
      const [eprot, eunprot, epayload] = expected.contents as [Uint8Array, Map<unknown, unknown>, Uint8Array];
      expect(Buffer.from(prot).toString('hex').toUpperCase()).toBe(h.protectedHeaders.cborHex);
      expect(Buffer.from(prot).equals(Buffer.from(eprot))).toBe(true);
      expect(Buffer.from(payload).equals(Buffer.from(epayload))).toBe(true);
      expect(unprot.get('io.cncf.notary.signingAgent')).toBe(eunprot.get('io.cncf.notary.signingAgent'));
      // the whole message is byte-identical up to the signature once the reference's unprotected header is used
      expect(
        Buffer.from(out)
          .subarray(0, 4 + prot.length)
          .equals(Buffer.from(h.expectedOutput.cborHex, 'hex').subarray(0, 4 + prot.length))
      ).toBe(true);
    });

    it('JWS payload of a descriptor sorts every key and escapes like Go', async () => {
      const { signer } = await makeChain();
      const env = JSON.parse(Buffer.from(await signEnvelope({ target, signer }, JWS_MEDIA_TYPE)).toString()) as {
        payload: string;
      };
      expect(Buffer.from(env.payload, 'base64url').toString()).toBe(
        `{"targetArtifact":{"annotations":{"a\\u003cb":"x\\u0026y","build":"42"},"digest":"${target.digest}","mediaType":"${target.mediaType}","size":517}}`
      );
      const cose = decode(await signEnvelope({ target, signer }, COSE_MEDIA_TYPE)) as Tag;
      expect(Buffer.from((cose.contents as Uint8Array[])[2]!).toString()).toBe(
        `{"targetArtifact":{"mediaType":"${target.mediaType}","digest":"${target.digest}","size":517,"annotations":{"a\\u003cb":"x\\u0026y","build":"42"}}}`
      );
    });
  });

  describe('round trips: every allowed key type in both formats', () => {
    for (const type of KEY_TYPES) {
      for (const mt of [JWS_MEDIA_TYPE, COSE_MEDIA_TYPE] as const) {
        it(`${type} ${mt}`, async () => {
          const { signer } = await makeChain({ leafType: type, intermediate: true });
          const expiry = new Date(Date.now() + 3600_000);
          const env = await signEnvelope({ target, signer, expiry }, mt);
          const c = await verifyEnvelopeIntegrity(env, mt);
          expect(c.targetArtifact).toEqual(target);
          expect(c.signerInfo.expiry?.getTime()).toBe(Math.floor(expiry.getTime() / 1000) * 1000);
          expect(c.signerInfo.certificateChain).toHaveLength(3);
          expect(c.signerInfo.signingAgent).toBe('signet/0.1.0');
        });
      }
    }
  });

  describe('refusals', () => {
    it('refuses unsupported key types and sizes at signing', async () => {
      const k = generateKeyPair('rsa-2048');
      const { generateKeyPairSync } = await import('node:crypto');
      const small = generateKeyPairSync('rsa', { modulusLength: 1024 });
      const cert = await createCertificate({
        subject: 'CN=small,O=T,ST=WA,C=US',
        publicKey: small.publicKey,
        signingKey: small.privateKey,
      });
      await expect(
        signEnvelope({ target, signer: new LocalKeySigner(small.privateKey, [cert]) }, JWS_MEDIA_TYPE)
      ).rejects.toThrow(/1024 bits are not allowed/);
      void k;
    });
    it('refuses to sign with a certificate that is not valid now', async () => {
      const { signer } = await makeChain({ notBefore: new Date('2010-01-01'), notAfter: new Date('2011-01-01') });
      await expect(signEnvelope({ target, signer }, JWS_MEDIA_TYPE)).rejects.toThrow(/after the validity period/);
    });
    it('parseEnvelope reads without verifying (inspect)', async () => {
      const { signer } = await makeChain();
      const env = await signEnvelope({ target, signer }, COSE_MEDIA_TYPE);
      expect(parseEnvelope(env, COSE_MEDIA_TYPE).targetArtifact.digest).toBe(target.digest);
    });
  });
});
