import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as pkijs from 'pkijs';
import { toPem } from '../../../src/pki/index.ts';
import { JWS_MEDIA_TYPE, signEnvelope } from '../../../src/signature/index.ts';
import { verifyEnvelope } from '../../../src/trust/index.ts';
import { makeChain, type TestChain } from '../../helpers/pki.ts';

/**
 * An attacker-supplied chain names OCSP and CRL URLs of the attacker's choosing: at the audit
 * level (authenticity logged, not enforced) verification must not fetch them unless the chain
 * reaches the trust store.
 */
describe('revocation is checked only for chains that reach the trust store', () => {
  let server: Server;
  let hits: string[];
  let work: string;
  let store: string;
  let trusted: TestChain;
  let attacker: TestChain;
  const subject = {
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    digest: `sha256:${'e'.repeat(64)}`,
    size: 42,
  };

  const withUrls = (base: string): pkijs.Extension[] => {
    const aia = new pkijs.InfoAccess({
      accessDescriptions: [
        new pkijs.AccessDescription({
          accessMethod: '1.3.6.1.5.5.7.48.1',
          accessLocation: new pkijs.GeneralName({ type: 6, value: `${base}/ocsp` }),
        }),
      ],
    });
    const cdp = new pkijs.CRLDistributionPoints({
      distributionPoints: [
        new pkijs.DistributionPoint({
          distributionPoint: [new pkijs.GeneralName({ type: 6, value: `${base}/leaf.crl` })],
        }),
      ],
    });
    return [
      new pkijs.Extension({ extnID: '1.3.6.1.5.5.7.1.1', critical: false, extnValue: aia.toSchema().toBER(false) }),
      new pkijs.Extension({ extnID: '2.5.29.31', critical: false, extnValue: cdp.toSchema().toBER(false) }),
    ];
  };

  beforeAll(async () => {
    hits = [];
    server = createServer((req, res) => {
      hits.push(`${req.method} ${req.url}`);
      req.resume();
      res.writeHead(503).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    trusted = await makeChain({ leaf: { extraExtensions: withUrls(base) } });
    attacker = await makeChain({ leaf: { extraExtensions: withUrls(base) } });
    work = await mkdtemp(join(tmpdir(), 'signet-rev-untrusted-'));
    store = join(work, 'store');
    await mkdir(join(store, 'x509', 'ca', 'r'), { recursive: true });
    await writeFile(join(store, 'x509', 'ca', 'r', 'root.pem'), toPem([trusted.root]));
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    await rm(work, { recursive: true, force: true });
  });

  const verify = async (chain: TestChain, level: string) => {
    const envelope = await signEnvelope({ target: subject, signer: chain.signer }, JWS_MEDIA_TYPE);
    return verifyEnvelope({
      envelope,
      mediaType: JWS_MEDIA_TYPE,
      subject,
      reference: `registry.example.com/app@${subject.digest}`,
      trustPolicy: {
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
      },
      trustStore: store,
    });
  };

  it('audit: an untrusted chain is reported, and its OCSP/CRL URLs are never fetched', async () => {
    hits.length = 0;
    const r = await verify(attacker, 'audit');
    expect(hits).toEqual([]);
    expect(r.results.find((x) => x.type === 'authenticity')).toMatchObject({ ok: false, action: 'log' });
    expect(r.results.find((x) => x.type === 'revocation')).toMatchObject({
      ok: true,
      action: 'skip',
      message: expect.stringMatching(/not checked.*trust store/),
    });
  });

  it('strict and permissive stop at authenticity: nothing fetched either', async () => {
    for (const level of ['strict', 'permissive']) {
      hits.length = 0;
      const r = await verify(attacker, level);
      expect(r.verified, level).toBe(false);
      expect(hits, level).toEqual([]);
    }
  });

  it('audit: a chain that reaches the trust store is still checked (its responder is asked)', async () => {
    hits.length = 0;
    const r = await verify(trusted, 'audit');
    expect(r.verified).toBe(true);
    expect(hits.length).toBeGreaterThan(0);
    expect(r.results.find((x) => x.type === 'revocation')).toMatchObject({ action: 'log' });
  });
});
