import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { X509Certificate } from 'node:crypto';
import { createCertificate, generateKeyPair, toPem } from '../../src/pki/index.ts';

const run = promisify(execFile);

export interface Tsa {
  url: string;
  root: X509Certificate;
  close(): Promise<void>;
}

/**
 * An RFC 3161 TSA for tests: Debian's `openssl ts -reply` behind a small HTTP endpoint on
 * 127.0.0.1, with its own root and TSA certificate. `eku: 'codeSigning'` makes a TSA whose
 * certificate lacks the timestamping EKU.
 */
export async function startTsa(opts: { eku?: 'timeStamping' | 'codeSigning' } = {}): Promise<Tsa> {
  const dir = await mkdtemp(join(tmpdir(), 'signet-tsa-'));
  const rootKeys = generateKeyPair('ecdsa-p256');
  const notBefore = new Date(Date.now() - 365 * 86_400_000);
  const notAfter = new Date(Date.now() + 3650 * 86_400_000);
  const root = await createCertificate({
    subject: 'CN=Test TSA Root,O=Signet Test,ST=WA,C=US',
    publicKey: rootKeys.publicKey,
    signingKey: rootKeys.privateKey,
    ca: true,
    notBefore,
    notAfter,
  });
  const tsaKeys = generateKeyPair('ecdsa-p256');
  const tsa = await createCertificate({
    subject: 'CN=Test TSA,O=Signet Test,ST=WA,C=US',
    publicKey: tsaKeys.publicKey,
    issuer: { cert: root, privateKey: rootKeys.privateKey },
    extendedKeyUsage: opts.eku ?? 'timeStamping',
    notBefore,
    notAfter,
  });
  await writeFile(join(dir, 'tsa.pem'), toPem([tsa]));
  await writeFile(join(dir, 'chain.pem'), toPem([tsa, root]));
  await writeFile(join(dir, 'tsa.key'), tsaKeys.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string, {
    mode: 0o600,
  });
  await writeFile(join(dir, 'serial'), '01\n');
  await writeFile(
    join(dir, 'tsa.cnf'),
    `[ tsa ]\ndefault_tsa = t\n[ t ]\ndir = ${dir}\nserial = $dir/serial\ncrypto_device = builtin\nsigner_cert = $dir/tsa.pem\ncerts = $dir/chain.pem\nsigner_key = $dir/tsa.key\nsigner_digest = sha256\ndefault_policy = 1.2.3.4.1\ndigests = sha256, sha384, sha512\naccuracy = secs:1\nordering = yes\ntsa_name = yes\ness_cert_id_chain = no\ness_cert_id_alg = sha256\n`
  );
  let n = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const id = n++;
      const q = join(dir, `q${id}.tsq`);
      const r = join(dir, `r${id}.tsr`);
      writeFile(q, Buffer.concat(chunks))
        .then(() => run('openssl', ['ts', '-reply', '-config', join(dir, 'tsa.cnf'), '-queryfile', q, '-out', r]))
        .then(() => readFile(r))
        .then((body) => res.writeHead(200, { 'content-type': 'application/timestamp-reply' }).end(body))
        .catch((err: Error) => res.writeHead(500).end(err.message));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}/tsa`,
    root,
    close: async () => {
      await new Promise<void>((r) => server.close(() => r()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A TimeStampToken made with pkijs by a "TSA" whose certificate has the given EKU (openssl ts
 * refuses to sign with a certificate that lacks the timestamping EKU, so negative tests forge one).
 */
export async function forgeToken(
  signature: Uint8Array,
  eku: 'codeSigning' | 'timeStamping',
  tsaExtensions: import('pkijs').Extension[] = []
): Promise<{ token: Uint8Array; root: X509Certificate }> {
  const pkijs = await import('pkijs');
  const asn1js = await import('asn1js');
  const { createHash, webcrypto } = await import('node:crypto');
  const rootKeys = generateKeyPair('ecdsa-p256');
  const root = await createCertificate({
    subject: 'CN=Forged TSA Root,O=Signet Test,ST=WA,C=US',
    publicKey: rootKeys.publicKey,
    signingKey: rootKeys.privateKey,
    ca: true,
  });
  const keys = generateKeyPair('ecdsa-p256');
  const cert = await createCertificate({
    subject: 'CN=Forged TSA,O=Signet Test,ST=WA,C=US',
    publicKey: keys.publicKey,
    issuer: { cert: root, privateKey: rootKeys.privateKey },
    extendedKeyUsage: eku,
    extraExtensions: tsaExtensions,
  });
  const tst = new pkijs.TSTInfo({
    version: 1,
    policy: '1.2.3.4.1',
    messageImprint: new pkijs.MessageImprint({
      hashAlgorithm: new pkijs.AlgorithmIdentifier({ algorithmId: '2.16.840.1.101.3.4.2.1' }),
      hashedMessage: new asn1js.OctetString({ valueHex: createHash('sha256').update(signature).digest() }),
    }),
    serialNumber: new asn1js.Integer({ value: 1 }),
    genTime: new Date(),
  });
  const tstDer = tst.toSchema().toBER(false);
  const pcert = pkijs.Certificate.fromBER(cert.raw);
  const cms = new pkijs.SignedData({
    version: 3,
    encapContentInfo: new pkijs.EncapsulatedContentInfo({
      eContentType: '1.2.840.113549.1.9.16.1.4',
      eContent: new asn1js.OctetString({ valueHex: tstDer }),
    }),
    signerInfos: [
      new pkijs.SignerInfo({
        version: 1,
        sid: new pkijs.IssuerAndSerialNumber({ issuer: pcert.issuer, serialNumber: pcert.serialNumber }),
      }),
    ],
    certificates: [pcert, pkijs.Certificate.fromBER(root.raw)],
  });
  cms.signerInfos[0]!.signedAttrs = new pkijs.SignedAndUnsignedAttributes({
    type: 0,
    attributes: [
      new pkijs.Attribute({
        type: '1.2.840.113549.1.9.3',
        values: [new asn1js.ObjectIdentifier({ value: '1.2.840.113549.1.9.16.1.4' })],
      }),
      new pkijs.Attribute({
        type: '1.2.840.113549.1.9.4',
        values: [new asn1js.OctetString({ valueHex: createHash('sha256').update(Buffer.from(tstDer)).digest() })],
      }),
      new pkijs.Attribute({ type: '1.2.840.113549.1.9.16.2.47', values: [new asn1js.Sequence({ value: [] })] }),
    ],
  });
  const key = await webcrypto.subtle.importKey(
    'pkcs8',
    keys.privateKey.export({ format: 'der', type: 'pkcs8' }),
    { name: 'ECDSA', namedCurve: 'P-256' },
    false,
    ['sign']
  );
  await cms.sign(key, 0, 'SHA-256');
  const ci = new pkijs.ContentInfo({ contentType: '1.2.840.113549.1.7.2', content: cms.toSchema(true) });
  return { token: new Uint8Array(ci.toSchema().toBER(false)), root };
}
