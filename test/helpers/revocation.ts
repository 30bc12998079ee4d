import { execFile } from 'node:child_process';
import type { KeyObject, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as pkijs from 'pkijs';
import { createCertificate, generateKeyPair, toPem } from '../../src/pki/index.ts';
import { LocalKeySigner } from '../../src/signature/index.ts';
import { freePort } from './net.ts';

const run = promisify(execFile);

/** openssl's index.txt time format: YYMMDDHHMMSSZ */
function osslTime(d: Date): string {
  return d.toISOString().replace(/^\d\d(\d\d)-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d).*$/, '$1$2$3$4$5$6Z');
}

function dn(cert: X509Certificate): string {
  return `/${cert.subject.split('\n').join('/')}`;
}

export interface RevocationPki {
  root: X509Certificate;
  /** Signers for leaves whose status is good, revoked, and unknown to the responder. */
  good: LocalKeySigner;
  revoked: LocalKeySigner;
  unknown: LocalKeySigner;
  /** Leaves that name only a CRL distribution point. */
  crlGood: LocalKeySigner;
  crlRevoked: LocalKeySigner;
  /** Revoked with an invalidity date 6 h ago (saLater) or 20 h ago (saEarlier), CRL only. */
  saLater: LocalKeySigner;
  saEarlier: LocalKeySigner;
  /** Leaves whose CRL has a delta CRL (FreshestCRL); the second is revoked in the delta only. */
  deltaGood: LocalKeySigner;
  deltaRevoked: LocalKeySigner;
  ocspUrl: string;
  crlUrl: string;
  /** Serve the CRL signed by another key, or one whose nextUpdate is an hour away. */
  crlMode(mode: 'good' | 'wrong-key' | 'short'): Promise<void>;
  /** Take the OCSP and CRL endpoints down / up. */
  down(): Promise<void>;
  up(): Promise<void>;
  /** The current CRL file (DER), for offline bundles. */
  crlFile: string;
  close(): Promise<void>;
}

/**
 * A test CA with an OCSP responder (`openssl ocsp` answering each request from the CA's
 * index.txt) and a CRL from `openssl ca -gencrl`, both behind an HTTP endpoint on 127.0.0.1.
 */
export async function startRevocationPki(): Promise<RevocationPki> {
  const dir = await mkdtemp(join(tmpdir(), 'signet-revocation-'));
  const port = await freePort();
  const ocspUrl = `http://127.0.0.1:${port}/ocsp`;
  const crlUrl = `http://127.0.0.1:${port}/ca.crl`;
  const notBefore = new Date(Date.now() - 86_400_000);
  const notAfter = new Date(Date.now() + 365 * 86_400_000);
  const rootKeys = generateKeyPair('ecdsa-p256');
  const root = await createCertificate({
    subject: 'CN=Revocation Test CA,O=Signet Test,ST=WA,C=US',
    publicKey: rootKeys.publicKey,
    signingKey: rootKeys.privateKey,
    ca: true,
    notBefore,
    notAfter,
  });
  const aia = (url: string): pkijs.Extension => {
    const v = new pkijs.InfoAccess({
      accessDescriptions: [
        new pkijs.AccessDescription({
          accessMethod: '1.3.6.1.5.5.7.48.1',
          accessLocation: new pkijs.GeneralName({ type: 6, value: url }),
        }),
      ],
    });
    return new pkijs.Extension({ extnID: '1.3.6.1.5.5.7.1.1', critical: false, extnValue: v.toSchema().toBER(false) });
  };
  const cdp = (url: string): pkijs.Extension => {
    const v = new pkijs.CRLDistributionPoints({
      distributionPoints: [
        new pkijs.DistributionPoint({ distributionPoint: [new pkijs.GeneralName({ type: 6, value: url })] }),
      ],
    });
    return new pkijs.Extension({ extnID: '2.5.29.31', critical: false, extnValue: v.toSchema().toBER(false) });
  };
  const leaf = async (cn: string, exts: pkijs.Extension[]): Promise<{ key: KeyObject; cert: X509Certificate }> => {
    const k = generateKeyPair('ecdsa-p256');
    const cert = await createCertificate({
      subject: `CN=${cn},O=Signet Test,ST=WA,C=US`,
      publicKey: k.publicKey,
      issuer: { cert: root, privateKey: rootKeys.privateKey },
      notBefore,
      notAfter,
      extraExtensions: exts,
    });
    return { key: k.privateKey, cert };
  };
  const good = await leaf('good', [aia(ocspUrl), cdp(crlUrl)]);
  const revoked = await leaf('revoked', [aia(ocspUrl), cdp(crlUrl)]);
  const unknown = await leaf('unknown', [aia(ocspUrl)]);
  const crlGood = await leaf('crl-good', [cdp(crlUrl)]);
  const crlRevoked = await leaf('crl-revoked', [cdp(crlUrl)]);
  const saLater = await leaf('sa-later', [cdp(crlUrl)]);
  const saEarlier = await leaf('sa-earlier', [cdp(crlUrl)]);
  const deltaUrl = `http://127.0.0.1:${port}/delta.crl`;
  const freshest = (url: string): pkijs.Extension => {
    const v = new pkijs.CRLDistributionPoints({
      distributionPoints: [
        new pkijs.DistributionPoint({ distributionPoint: [new pkijs.GeneralName({ type: 6, value: url })] }),
      ],
    });
    return new pkijs.Extension({ extnID: '2.5.29.46', critical: false, extnValue: v.toSchema().toBER(false) });
  };
  const deltaGood = await leaf('delta-good', [cdp(crlUrl), freshest(deltaUrl)]);
  const deltaRevoked = await leaf('delta-revoked', [cdp(crlUrl), freshest(deltaUrl)]);
  const exp = osslTime(notAfter);
  const revokedAt = osslTime(new Date(Date.now() - 3600_000));
  const line = (c: X509Certificate, rev?: boolean): string =>
    `${rev ? 'R' : 'V'}\t${exp}\t${rev ? revokedAt : ''}\t${c.serialNumber}\tunknown\t${dn(c)}\n`;
  const gen = (d: Date): string =>
    d
      .toISOString()
      .replace(/[-:T]/g, '')
      .replace(/\.\d+Z$/, 'Z');
  // keyTime: revoked for key compromise, with the compromise time as the CRL entry's invalidity date
  const compromised = (c: X509Certificate, hoursAgo: number): string =>
    `R\t${exp}\t${revokedAt},keyTime,${gen(new Date(Date.now() - hoursAgo * 3600_000))}\t${c.serialNumber}\tunknown\t${dn(c)}\n`;
  await writeFile(
    join(dir, 'index.txt'),
    line(good.cert) +
      line(revoked.cert, true) +
      line(crlGood.cert) +
      line(crlRevoked.cert, true) +
      compromised(saLater.cert, 6) +
      compromised(saEarlier.cert, 20)
  );
  await writeFile(join(dir, 'index.txt.attr'), 'unique_subject = no\n');
  await writeFile(join(dir, 'crlnumber'), '01\n');
  await writeFile(join(dir, 'ca.pem'), toPem([root]));
  await writeFile(join(dir, 'ca.key'), rootKeys.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string, {
    mode: 0o600,
  });
  const other = generateKeyPair('ecdsa-p256');
  await writeFile(join(dir, 'other.key'), other.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string, {
    mode: 0o600,
  });
  // same name as the CA, another key: a CRL it signs claims the right issuer with the wrong signature
  const impostor = await createCertificate({
    subject: 'CN=Revocation Test CA,O=Signet Test,ST=WA,C=US',
    publicKey: other.publicKey,
    signingKey: other.privateKey,
    ca: true,
    notBefore,
    notAfter,
  });
  await writeFile(join(dir, 'other.pem'), toPem([impostor]));
  await writeFile(
    join(dir, 'ca.cnf'),
    `[ ca ]\ndefault_ca = d\n[ d ]\ndatabase = ${dir}/index.txt\ncrlnumber = ${dir}/crlnumber\ndefault_md = sha256\ndefault_crl_days = 7\n`
  );
  const gencrl = async (mode: 'good' | 'wrong-key' | 'short'): Promise<void> => {
    const args = [
      'ca',
      '-config',
      join(dir, 'ca.cnf'),
      '-gencrl',
      '-cert',
      join(dir, mode === 'wrong-key' ? 'other.pem' : 'ca.pem'),
      '-keyfile',
      join(dir, mode === 'wrong-key' ? 'other.key' : 'ca.key'),
      '-out',
      join(dir, 'ca.crl.pem'),
    ];
    if (mode === 'short') args.push('-crlhours', '1');
    await run('openssl', args);
    await run('openssl', ['crl', '-in', join(dir, 'ca.crl.pem'), '-outform', 'DER', '-out', join(dir, 'ca.crl')]);
  };
  await gencrl('good');
  // The delta CRL (openssl ca does not make them): revokes delta-revoked since base CRL number 1.
  {
    const asn1js = await import('asn1js');
    const { webcrypto } = await import('node:crypto');
    const d = new pkijs.CertificateRevocationList({
      version: 1,
      issuer: pkijs.Certificate.fromBER(root.raw).subject,
      thisUpdate: new pkijs.Time({ type: 0, value: new Date(Date.now() - 60_000) }),
      nextUpdate: new pkijs.Time({ type: 0, value: new Date(Date.now() + 86_400_000) }),
    });
    d.revokedCertificates = [
      new pkijs.RevokedCertificate({
        userCertificate: pkijs.Certificate.fromBER(deltaRevoked.cert.raw).serialNumber,
        revocationDate: new pkijs.Time({ type: 0, value: new Date(Date.now() - 30_000) }),
      }),
    ];
    d.crlExtensions = new pkijs.Extensions({
      extensions: [
        new pkijs.Extension({
          extnID: '2.5.29.27',
          critical: true,
          extnValue: new asn1js.Integer({ value: 1 }).toBER(false),
        }),
        new pkijs.Extension({
          extnID: '2.5.29.20',
          critical: false,
          extnValue: new asn1js.Integer({ value: 100 }).toBER(false),
        }),
      ],
    });
    const key = await webcrypto.subtle.importKey(
      'pkcs8',
      rootKeys.privateKey.export({ format: 'der', type: 'pkcs8' }),
      { name: 'ECDSA', namedCurve: 'P-256' },
      false,
      ['sign']
    );
    await d.sign(key, 'SHA-256');
    await writeFile(join(dir, 'delta.crl'), Buffer.from(d.toSchema(true).toBER(false)));
  }
  let n = 0;
  const handler = (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse): void => {
    if (req.method === 'GET' && (req.url === '/ca.crl' || req.url === '/delta.crl')) {
      readFile(join(dir, req.url.slice(1))).then(
        (b) => res.writeHead(200, { 'content-type': 'application/pkix-crl' }).end(b),
        () => res.writeHead(500).end()
      );
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const id = n++;
      const q = join(dir, `q${id}.der`);
      const r = join(dir, `r${id}.der`);
      writeFile(q, Buffer.concat(chunks))
        .then(() =>
          run('openssl', [
            'ocsp',
            '-index',
            join(dir, 'index.txt'),
            '-CA',
            join(dir, 'ca.pem'),
            '-rsigner',
            join(dir, 'ca.pem'),
            '-rkey',
            join(dir, 'ca.key'),
            '-reqin',
            q,
            '-respout',
            r,
            '-nmin',
            '10',
          ])
        )
        .then(() => readFile(r))
        .then((b) => res.writeHead(200, { 'content-type': 'application/ocsp-response' }).end(b))
        .catch((err: Error) => res.writeHead(500).end(err.message));
    });
  };
  let server: Server | undefined;
  const up = async (): Promise<void> => {
    server = createServer(handler);
    await new Promise<void>((r) => server!.listen(port, '127.0.0.1', r));
  };
  const down = async (): Promise<void> => {
    if (!server) return;
    const s = server;
    server = undefined;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  };
  await up();
  const signer = (l: { key: KeyObject; cert: X509Certificate }): LocalKeySigner =>
    new LocalKeySigner(l.key, [l.cert, root]);
  return {
    root,
    good: signer(good),
    revoked: signer(revoked),
    unknown: signer(unknown),
    crlGood: signer(crlGood),
    crlRevoked: signer(crlRevoked),
    saLater: signer(saLater),
    saEarlier: signer(saEarlier),
    deltaGood: signer(deltaGood),
    deltaRevoked: signer(deltaRevoked),
    ocspUrl,
    crlUrl,
    crlMode: gencrl,
    down,
    up,
    crlFile: join(dir, 'ca.crl'),
    close: async () => {
      await down();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
