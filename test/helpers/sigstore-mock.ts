/**
 * A private Sigstore instance for tests: @sigstore/mock's Fulcio, Rekor (v1) and TSA handlers
 * served over real HTTP on 127.0.0.1, a trusted_root.json built for them, and keyless signing
 * with @sigstore/sign against them (an unsigned OIDC token: the mock Fulcio does not check it).
 *
 * Rekor v1 `dsse` entries are stored as Rekor stores them (storedDsse). Also served: a Rekor v1 whose clock runs an hour ahead (`${url}/late`: its signed entry times
 * fall after the 10-minute certificates' notAfter), and a Rekor v2 log (`/api/v2/log/entries`).
 * The v2 log is this file's own: @sigstore/mock 0.12's `rekorV2Handler` logs the create-entry
 * *request* as the entry body (no `kind`/`apiVersion`, Buffers as `{"type":"Buffer",…}`) and
 * proves inclusion of a random log index in a tree of size 1, so @sigstore/verify refuses every
 * entry it makes (`kind/version mismatch`, `invalid index`). Here the body is a Rekor v2 `Entry`
 * (dsse or hashedrekord 0.0.2) and the proof is the one-leaf tree's, with a checkpoint signed
 * by the log key, as @sigstore/verify checks them; no SET, integrated time 0 (Rekor v2 gives no
 * time: a bundle needs a TSA timestamp).
 */
import { createHash, generateKeyPairSync, randomInt, sign as cryptoSign, type KeyObject } from 'node:crypto';
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
import { HashAlgorithm, TransparencyLogEntry } from '@sigstore/protobuf-specs';
import { CreateEntryRequest, Entry } from '@sigstore/protobuf-specs/rekor/v2';
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
  /** The DER certificate of a second CA that embeds no SCTs (`sign({ noSct: true })`), as a private Fulcio without CT may. */
  noSctCa: Uint8Array;
  /** The mock's Rekor v1 whose entries are integrated an hour late (after a fresh certificate's notAfter). */
  lateRekorURL: string;
  /** An OIDC identity token the mock Fulcio accepts for this subject and issuer (unsigned). */
  token(subject: string, issuer: string): string;
  /**
   * A keyless bundle for these bytes: DSSE with `payloadType`, or a message signature; `tlog`
   * false: no log entry; `rekorV2`: a Rekor v2 entry; `late`: logged by the late Rekor v1.
   */
  sign(
    data: Buffer,
    opts: {
      subject: string;
      issuer: string;
      dsse?: string;
      tsa?: boolean;
      tlog?: boolean;
      rekorV2?: boolean;
      late?: boolean;
      noSct?: boolean;
      /** More token claims: the mock Fulcio turns GitHub's (repository, ref, event_name, workflow, sha) into extensions. */
      claims?: Record<string, string>;
    }
  ): Promise<SerializedBundle>;
  close(): Promise<void>;
}

const keyPair = (): { publicKey: KeyObject; privateKey: KeyObject } =>
  generateKeyPairSync('ec', { namedCurve: 'P-256' });

const b64 = (b: ArrayBufferView): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');
const der = (k: KeyObject | Buffer): Buffer =>
  Buffer.isBuffer(k) ? k : (k.export({ type: 'spki', format: 'der' }) as Buffer);
const start = '2020-01-01T00:00:00Z';

function token(subject: string, issuer: string, claims: Record<string, string> = {}): string {
  const enc = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${enc({ alg: 'none' })}.${enc({ iss: issuer, sub: subject, aud: 'sigstore', email: subject, email_verified: true, ...claims })}.`;
}

const sha256 = (b: Uint8Array): Buffer => createHash('sha256').update(b).digest();

/**
 * A Rekor v1 `dsse` entry as Rekor stores it: the proposed content (envelope and verifier keys)
 * becomes the envelope and payload hashes and the signatures with their verifiers. @sigstore/mock
 * logs a proposed entry as sent, which is right for hashedrekord and intoto but leaves a dsse
 * body without `signatures` (@sigstore/verify: "signature count mismatch"). Other kinds pass as they are.
 */
function storedDsse(body: string): string {
  const proposed = JSON.parse(body) as {
    kind?: string;
    spec?: { proposedContent?: { envelope: string; verifiers: string[] } };
  };
  const content = proposed.kind === 'dsse' ? proposed.spec?.proposedContent : undefined;
  if (!content) return body;
  const env = JSON.parse(content.envelope) as { payload: string; signatures: Array<{ sig: string }> };
  const hex = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');
  return JSON.stringify({
    apiVersion: '0.0.1',
    kind: 'dsse',
    spec: {
      envelopeHash: { algorithm: 'sha256', value: hex(content.envelope) },
      payloadHash: { algorithm: 'sha256', value: hex(Buffer.from(env.payload, 'base64')) },
      signatures: env.signatures.map((sig) => ({ signature: sig.sig, verifier: content.verifiers[0] })),
    },
  });
}

/**
 * A Rekor v2 log (`POST /api/v2/log/entries`): each entry is the only leaf of its own tree (index
 * 0, size 1, the leaf hash as the root), and the response is the TransparencyLogEntry a v2 log
 * returns: the body a v2 `Entry`, the inclusion proof with a checkpoint signed by the log key
 * (key hint: the first 4 bytes of the log ID, as @sigstore/verify looks it up), no SET.
 */
function rekorV2(logKey: KeyObject, host: string, logPublicKey: Buffer): HandlerFn {
  const logID = sha256(logPublicKey);
  return (body: string) => {
    const req = CreateEntryRequest.fromJSON(JSON.parse(body));
    let entry: Entry;
    if (req.spec?.$case === 'dsseRequestV002') {
      const { envelope, verifiers } = req.spec.dsseRequestV002;
      entry = {
        kind: 'dsse',
        apiVersion: '0.0.2',
        spec: {
          spec: {
            $case: 'dsseV002',
            dsseV002: {
              payloadHash: { algorithm: HashAlgorithm.SHA2_256, digest: sha256(envelope!.payload) },
              signatures: envelope!.signatures.map((sig) => ({ content: sig.sig, verifier: verifiers[0] })),
            },
          },
        },
      };
    } else if (req.spec?.$case === 'hashedRekordRequestV002') {
      const { digest, signature } = req.spec.hashedRekordRequestV002;
      entry = {
        kind: 'hashedrekord',
        apiVersion: '0.0.2',
        spec: {
          spec: {
            $case: 'hashedRekordV002',
            hashedRekordV002: { data: { algorithm: HashAlgorithm.SHA2_256, digest }, signature },
          },
        },
      };
    } else return Promise.resolve({ statusCode: 400, response: 'unknown entry kind' });
    const canonicalizedBody = Buffer.from(JSON.stringify(Entry.toJSON(entry)));
    const rootHash = sha256(Buffer.concat([Buffer.from([0]), canonicalizedBody]));
    const note = `${host} - ${randomInt(2 ** 47)}\n1\n${rootHash.toString('base64')}\n`;
    const sig = Buffer.concat([logID.subarray(0, 4), cryptoSign('sha256', Buffer.from(note), logKey)]);
    const tle = TransparencyLogEntry.toJSON({
      logIndex: '0',
      logId: { keyId: logID },
      kindVersion: { kind: entry.kind, version: '0.0.2' },
      integratedTime: '0',
      inclusionPromise: undefined,
      inclusionProof: {
        logIndex: '0',
        treeSize: '1',
        rootHash,
        hashes: [],
        checkpoint: { envelope: `${note}\n\u2014 ${host} ${sig.toString('base64')}\n` },
      },
      canonicalizedBody,
    });
    return Promise.resolve({ statusCode: 201, response: JSON.stringify(tle), contentType: 'application/json' });
  };
}

export async function startSigstoreMock(): Promise<SigstoreMock> {
  const ctKeys = keyPair();
  const ctlog = await initializeCTLog(ctKeys);
  const ca = await initializeCA(keyPair(), ctlog);
  const otherCa = await initializeCA(keyPair(), ctlog);
  const noSctCa = await initializeCA(keyPair());
  const tlogKeys = keyPair();
  // The TSA's clock is set to the current whole second before each request: the mock encodes
  // genTime with DER's trimmed fraction ("….12Z" at 120 ms) and @sigstore/core 3.2 parses only
  // no fraction or exactly three digits, so one timestamp in ten failed ("invalid time").
  const tsaClock = new Date();
  const tsa = await initializeTSA(keyPair(), tsaClock);
  const routes = new Map<string, HandlerFn>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const fn = req.method === 'POST' ? routes.get(req.url ?? '') : undefined;
      tsaClock.setTime(Math.floor(Date.now() / 1000) * 1000);
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
  const lateTlog = await initializeTLog(url, tlogKeys, new Date(Date.now() + 60 * 60 * 1000));
  for (const h of [fulcioHandler(ca), tsaHandler(tsa)]) routes.set(h.path, h.fn);
  const noSctFulcio = fulcioHandler(noSctCa);
  routes.set(`/nosct${noSctFulcio.path}`, noSctFulcio.fn);
  const rekor = rekorHandler(tlog);
  const late = rekorHandler(lateTlog);
  routes.set(rekor.path, (body) => rekor.fn(storedDsse(body)));
  routes.set(`/late${late.path}`, (body) => late.fn(storedDsse(body)));
  routes.set('/api/v2/log/entries', rekorV2(tlogKeys.privateKey, new URL(url).host, der(tlog.publicKey)));

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
    lateRekorURL: `${url}/late`,
    token,
    trustedRoot: rootFor(ca.rootCertificate),
    otherRoot: rootFor(otherCa.rootCertificate),
    noSctCa: Buffer.from(
      noSctCa.rootCertificate.buffer,
      noSctCa.rootCertificate.byteOffset,
      noSctCa.rootCertificate.byteLength
    ),
    async sign(data, opts) {
      const signer = new FulcioSigner({
        fulcioBaseURL: opts.noSct ? `${url}/nosct` : url,
        identityProvider: { getToken: () => Promise.resolve(token(opts.subject, opts.issuer, opts.claims)) },
      });
      const witnesses: Witness[] = [];
      if (opts.tlog !== false)
        witnesses.push(
          new RekorWitness({
            rekorBaseURL: opts.late ? `${url}/late` : url,
            ...(opts.rekorV2 ? { majorApiVersion: 2 } : opts.dsse ? { entryType: 'intoto' as const } : {}),
          })
        );
      if (opts.tsa) witnesses.push(new TSAWitness({ tsaBaseURL: url }));
      const bundle = opts.dsse
        ? await new DSSEBundleBuilder({ signer, witnesses }).create({ data, type: opts.dsse })
        : await new MessageSignatureBundleBuilder({ signer, witnesses }).create({ data });
      return bundleToJSON(bundle);
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
