import { createHash, randomBytes, type X509Certificate } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { request } from 'undici';
import { SignetError } from '../util/index.ts';
import type { HashName } from './algorithms.ts';
import { chainValidAt, validateTimestampingChain } from './chain.ts';
import { certificateFromDer, describeCert, issuedBy } from './x509.ts';

const HASH_OIDS: Record<HashName, string> = {
  'SHA-256': '2.16.840.1.101.3.4.2.1',
  'SHA-384': '2.16.840.1.101.3.4.2.2',
  'SHA-512': '2.16.840.1.101.3.4.2.3',
};
const OID_TO_NODE: Record<string, string> = {
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};
const ID_CT_TSTINFO = '1.2.840.113549.1.9.16.1.4';
const SIGNING_CERTIFICATE_V2 = '1.2.840.113549.1.9.16.2.47';
const SIGNING_CERTIFICATE = '1.2.840.113549.1.9.16.2.12';
const MAX_RESPONSE = 1024 * 1024;

function tspError(message: string, kind: 'failed' | 'inconclusive' = 'failed'): never {
  throw new SignetError(kind === 'failed' ? 'TIMESTAMP_INVALID' : 'TIMESTAMP_UNAVAILABLE', message);
}

export interface TimestampInfo {
  genTime: Date;
  /** Accuracy in milliseconds (0 when the token states none). */
  accuracyMs: number;
  policy: string;
  /** TSA chain, leaf first, ending with the trusted root. */
  chain: X509Certificate[];
}

/**
 * Checks an RFC 3161 TimeStampToken (DER CMS ContentInfo) over `signature`: TSTInfo content type,
 * message imprint, CMS signature, signing-certificate attribute, and the TSA chain up to one of
 * `roots` under the timestamping rules, valid at genTime. pkijs does the CMS/TSP work.
 */
export async function verifyTimestampToken(
  token: Uint8Array,
  signature: Uint8Array,
  roots: X509Certificate[],
  expectedNonce?: Uint8Array
): Promise<TimestampInfo> {
  let signed: pkijs.SignedData;
  let tst: pkijs.TSTInfo;
  try {
    const ci = pkijs.ContentInfo.fromBER(token);
    if (ci.contentType !== pkijs.ContentInfo.SIGNED_DATA) tspError('timestamp token is not CMS SignedData');
    signed = new pkijs.SignedData({ schema: ci.content });
    if (signed.encapContentInfo.eContentType !== ID_CT_TSTINFO)
      tspError(`timestamp token content type is ${signed.encapContentInfo.eContentType}, not id-ct-TSTInfo`);
    const econtent = signed.encapContentInfo.eContent;
    if (!econtent) tspError('timestamp token has no TSTInfo');
    tst = pkijs.TSTInfo.fromBER(econtent.getValue());
  } catch (err) {
    if (err instanceof SignetError) throw err;
    tspError(`timestamp token is malformed: ${(err as Error).message}`);
  }
  const imprintAlg = tst.messageImprint.hashAlgorithm.algorithmId;
  const nodeHash = OID_TO_NODE[imprintAlg];
  if (!nodeHash) tspError(`timestamp message imprint uses an unsupported hash ${imprintAlg}`);
  const expected = createHash(nodeHash).update(signature).digest();
  if (!Buffer.from(tst.messageImprint.hashedMessage.valueBlock.valueHexView).equals(expected)) {
    tspError('the timestamp is for another signature: its message imprint does not match');
  }
  if (
    expectedNonce &&
    (!tst.nonce || !Buffer.from(tst.nonce.valueBlock.valueHexView).equals(Buffer.from(expectedNonce)))
  )
    tspError('timestamp nonce does not match the request');
  const signerInfo = signed.signerInfos[0];
  if (!signerInfo || signed.signerInfos.length !== 1) tspError('timestamp token must have exactly one signer');
  const attrs = signerInfo.signedAttrs?.attributes ?? [];
  if (!attrs.some((a) => a.type === SIGNING_CERTIFICATE_V2 || a.type === SIGNING_CERTIFICATE))
    tspError('timestamp token lacks the signing-certificate attribute');
  let verified: { signatureVerified?: boolean | null; signerCertificate?: pkijs.Certificate | null };
  try {
    // For a TSTInfo, pkijs takes the timestamped data itself and checks the imprint against it too.
    verified = (await signed.verify({
      signer: 0,
      data: new Uint8Array(signature).buffer,
      checkChain: false,
      extendedMode: true,
    })) as typeof verified;
  } catch (err) {
    tspError(`timestamp signature does not verify: ${(err as { message?: string }).message ?? String(err)}`);
  }
  if (!verified.signatureVerified || !verified.signerCertificate) tspError('timestamp signature does not verify');
  // Build the TSA chain from the token's certificates up to a trusted root (byte-equal).
  // A certificate Node cannot decode is no link of the chain (skipped) and no signer (refused).
  const decode = (c: pkijs.Certificate): X509Certificate | undefined => {
    try {
      return certificateFromDer(new Uint8Array(c.toSchema().toBER(false)));
    } catch {
      return undefined;
    }
  };
  const pool = (signed.certificates ?? [])
    .filter((c): c is pkijs.Certificate => c instanceof pkijs.Certificate)
    .map(decode)
    .filter((c): c is X509Certificate => c !== undefined);
  const leaf = decode(verified.signerCertificate) ?? tspError('the TSA signing certificate does not decode');
  const chain: X509Certificate[] = [leaf];
  const isRoot = (c: X509Certificate): boolean => roots.some((r) => Buffer.from(r.raw).equals(Buffer.from(c.raw)));
  while (!isRoot(chain[chain.length - 1]!)) {
    const cur = chain[chain.length - 1]!;
    const next = [...pool, ...roots].find((c) => !chain.includes(c) && issuedBy(cur, c));
    if (!next || chain.length > 8)
      tspError(`the TSA certificate ${describeCert(leaf)} does not chain to a certificate of the tsa trust store`);
    chain.push(next);
  }
  validateTimestampingChain(chain);
  const genTime = tst.genTime;
  const valid = chainValidAt(chain, genTime);
  if (!valid.ok) tspError(`TSA chain at the timestamp: ${valid.message}`);
  const acc = tst.accuracy;
  const accuracyMs = acc ? (acc.seconds ?? 0) * 1000 + (acc.millis ?? 0) + Math.ceil((acc.micros ?? 0) / 1000) : 0;
  return { genTime, accuracyMs, policy: tst.policy, chain };
}

/**
 * Asks an RFC 3161 TSA (HTTP POST application/timestamp-query) for a token over `signature`,
 * and checks the answer before returning it: status, nonce, imprint, TSA chain to `roots`.
 */
export async function requestTimestamp(
  url: string,
  signature: Uint8Array,
  hash: HashName,
  roots: X509Certificate[]
): Promise<Uint8Array> {
  const nonce = randomBytes(8);
  nonce[0] = (nonce[0]! & 0x7f) | 0x01;
  const req = new pkijs.TimeStampReq({
    version: 1,
    messageImprint: new pkijs.MessageImprint({
      hashAlgorithm: new pkijs.AlgorithmIdentifier({ algorithmId: HASH_OIDS[hash] }),
      hashedMessage: new asn1js.OctetString({
        valueHex: createHash(hash.replace('-', '').toLowerCase()).update(signature).digest(),
      }),
    }),
    nonce: new asn1js.Integer({ valueHex: nonce }),
    certReq: true,
  });
  let res;
  try {
    res = await request(url, {
      method: 'POST',
      body: Buffer.from(req.toSchema().toBER(false)),
      headers: { 'content-type': 'application/timestamp-query' },
      headersTimeout: 10_000,
      bodyTimeout: 10_000,
    });
  } catch (err) {
    tspError(`timestamp authority ${url} is unreachable: ${(err as Error).message}`, 'inconclusive');
  }
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res.body) {
    n += (c as Buffer).length;
    if (n > MAX_RESPONSE) tspError(`timestamp authority ${url} answered more than ${MAX_RESPONSE} bytes`);
    chunks.push(c as Buffer);
  }
  if (res.statusCode !== 200) tspError(`timestamp authority ${url} answered HTTP ${res.statusCode}`, 'inconclusive');
  let resp: pkijs.TimeStampResp;
  try {
    resp = pkijs.TimeStampResp.fromBER(Buffer.concat(chunks));
  } catch (err) {
    tspError(`timestamp authority ${url} answered something that is not a TimeStampResp: ${(err as Error).message}`);
  }
  if (resp.status.status > 1 || !resp.timeStampToken)
    tspError(`timestamp authority ${url} refused the request (status ${resp.status.status})`);
  const token = new Uint8Array(resp.timeStampToken.toSchema().toBER(false));
  await verifyTimestampToken(token, signature, roots, nonce);
  return token;
}
