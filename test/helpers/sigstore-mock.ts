/**
 * A private Sigstore instance for tests: @sigstore/mock's Fulcio, Rekor (v1) and TSA handlers
 * served over real HTTP on 127.0.0.1, a trusted_root.json built for them, and keyless signing
 * with @sigstore/sign against them (an unsigned OIDC token: the mock Fulcio does not check it).
 */
import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  fulcioHandler,
  initializeCA,
  initializeCTLog,
  initializeTLog,
  initializeTSA,
  rekorHandler,
  tsaHandler,
  type HandlerFn,
} from '@sigstore/mock';
import { bundleToJSON, type SerializedBundle } from '@sigstore/bundle';
import {
  DSSEBundleBuilder,
  FulcioSigner,
  MessageSignatureBundleBuilder,
  RekorWitness,
  TSAWitness,
  type Witness,
} from '@sigstore/sign';

export interface SigstoreMock {
  url: string;
  /** trusted_root.json (protobuf-specs JSON) for this instance. */
  trustedRoot: Record<string, unknown>;
  /** A trusted root whose CA is another, unrelated one (an untrusted CA). */
  otherRoot: Record<string, unknown>;
  /** A keyless bundle for these bytes: DSSE with `payloadType`, or a message signature. */
  sign(
    data: Buffer,
    opts: { subject: string; issuer: string; dsse?: string; tsa?: boolean; tlog?: boolean }
  ): Promise<SerializedBundle>;
  close(): Promise<void>;
}

const keyPair = (): { publicKey: KeyObject; privateKey: KeyObject } =>
  generateKeyPairSync('ec', { namedCurve: 'P-256' });

const b64 = (b: ArrayBufferView): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');
const der = (k: KeyObject | Buffer): Buffer =>
  Buffer.isBuffer(k) ? k : (k.export({ type: 'spki', format: 'der' }) as Buffer);
const start = '2020-01-01T00:00:00Z';

function token(subject: string, issuer: string): string {
  const enc = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${enc({ alg: 'none' })}.${enc({ iss: issuer, sub: subject, aud: 'sigstore', email: subject, email_verified: true })}.`;
}

export async function startSigstoreMock(): Promise<SigstoreMock> {
  const ctKeys = keyPair();
  const ctlog = await initializeCTLog(ctKeys);
  const ca = await initializeCA(keyPair(), ctlog);
  const otherCa = await initializeCA(keyPair(), ctlog);
  const tlogKeys = keyPair();
  const tsa = await initializeTSA(keyPair());
  const routes = new Map<string, HandlerFn>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const fn = req.method === 'POST' ? routes.get(req.url ?? '') : undefined;
      if (!fn) {
        res.writeHead(404).end();
        return;
      }
      fn(Buffer.concat(chunks).toString('utf8')).then(
        ({ statusCode, response, contentType }) => {
          res.writeHead(statusCode, { 'content-type': contentType ?? 'application/json' });
          res.end(typeof response === 'string' ? response : Buffer.from(response.buffer));
        },
        (err: Error) => res.writeHead(500).end(err.message)
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const tlog = await initializeTLog(url, tlogKeys);
  for (const h of [fulcioHandler(ca), rekorHandler(tlog), tsaHandler(tsa)]) routes.set(h.path, h.fn);

  const tlogKey = der(tlog.publicKey);
  const rootFor = (caCert: ArrayBufferView): Record<string, unknown> => ({
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [
      {
        baseUrl: url,
        hashAlgorithm: 'SHA2_256',
        publicKey: { rawBytes: b64(tlogKey), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start } },
        logId: { keyId: createHash('sha256').update(tlogKey).digest('base64') },
      },
    ],
    certificateAuthorities: [
      {
        subject: { organization: 'sigstore.mock', commonName: 'sigstore' },
        uri: url,
        certChain: { certificates: [{ rawBytes: b64(caCert) }] },
        validFor: { start },
      },
    ],
    ctlogs: [
      {
        baseUrl: url,
        hashAlgorithm: 'SHA2_256',
        publicKey: { rawBytes: b64(der(ctlog.publicKey)), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start } },
        logId: { keyId: b64(ctlog.logID) },
      },
    ],
    timestampAuthorities: [
      {
        subject: { organization: 'sigstore.mock', commonName: 'tsa' },
        uri: url,
        certChain: { certificates: [{ rawBytes: b64(tsa.intCertificate) }, { rawBytes: b64(tsa.rootCertificate) }] },
        validFor: { start },
      },
    ],
  });

  return {
    url,
    trustedRoot: rootFor(ca.rootCertificate),
    otherRoot: rootFor(otherCa.rootCertificate),
    async sign(data, opts) {
      const signer = new FulcioSigner({
        fulcioBaseURL: url,
        identityProvider: { getToken: () => Promise.resolve(token(opts.subject, opts.issuer)) },
      });
      const witnesses: Witness[] = [];
      if (opts.tlog !== false)
        witnesses.push(new RekorWitness({ rekorBaseURL: url, ...(opts.dsse ? { entryType: 'intoto' as const } : {}) }));
      if (opts.tsa) witnesses.push(new TSAWitness({ tsaBaseURL: url }));
      const bundle = opts.dsse
        ? await new DSSEBundleBuilder({ signer, witnesses }).create({ data, type: opts.dsse })
        : await new MessageSignatureBundleBuilder({ signer, witnesses }).create({ data });
      return bundleToJSON(bundle);
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
