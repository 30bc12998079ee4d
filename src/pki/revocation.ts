import { SignetError } from '../util/index.ts';
import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { request } from 'undici';
import { certInfo, describeCert, issuedBy, OID } from './x509.ts';

export type RevocationState = 'good' | 'revoked' | 'unknown' | 'unavailable';
export interface RevocationResult {
  status: RevocationState;
  message?: string;
  /** For a `good` answer: when the evidence it rests on (OCSP response, CRL) is next updated. */
  nextUpdate?: Date;
}

export interface RevocationOptions {
  now?: Date;
  /** Per-request timeout in ms (OCSP default 2 s, CRL 5 s, as the reference). */
  ocspTimeoutMs?: number;
  crlTimeoutMs?: number;
  /** A cache of CRLs and OCSP responses (FileRevocationCache, MemoryRevocationCache). */
  cache?: RevocationCache;
  /** Never go to the network: use the cache and the bundled CRLs only. */
  offline?: boolean;
  /** CRLs (DER or PEM) brought along for offline use; matched by issuer. */
  bundle?: Uint8Array[];
  /**
   * Signing-authority signatures: a certificate whose stated invalidity date (RFC 5280 §5.3.2) is
   * after this time (the authentic signing time) was still good when it signed.
   */
  notRevokedBefore?: Date;
}

const INVALIDITY_DATE = '2.5.29.24';

function invalidityDate(exts: pkijs.Extension[] | undefined): Date | undefined {
  const e = exts?.find((x) => x.extnID === INVALIDITY_DATE);
  if (!e) return undefined;
  // An invalidity date that is not a GeneralizedTime is ignored: the certificate stays revoked.
  const t = asn1js.fromBER(e.extnValue.valueBlock.valueHexView).result;
  if (!(t instanceof asn1js.GeneralizedTime)) return undefined;
  const d = t.toDate();
  return Number.isNaN(d.getTime()) ? undefined : d;
}

/** The options of one certificate's check: what the certificate is in its chain names it in messages. */
interface CertCheckOptions extends RevocationOptions {
  /** `signing certificate` (the chain's leaf) or `issuing CA certificate` (any CA above it). */
  role: string;
}

/** Revoked, unless the invalidity date is after the authentic signing time (SA scheme). */
function revokedResult(
  cert: X509Certificate,
  where: string,
  invalidity: Date | undefined,
  options: CertCheckOptions
): RevocationResult {
  if (options.notRevokedBefore && invalidity && invalidity > options.notRevokedBefore) {
    return {
      status: 'good',
      message: `${describeCert(cert)} is revoked with invalidity date ${invalidity.toISOString()}, after the authentic signing time ${options.notRevokedBefore.toISOString()}: it was good when it signed`,
    };
  }
  return { status: 'revoked', message: `${options.role} with subject "${describeCert(cert)}" is revoked (${where})` };
}

/** Stores raw revocation data by URL (and, for OCSP, certificate) until it goes stale. */
export interface RevocationCache {
  get(key: string): Promise<Uint8Array | undefined>;
  set(key: string, data: Uint8Array, nextUpdate: Date | undefined): Promise<void>;
}

const OCSP_NONCE = '1.3.6.1.5.5.7.48.1.2';
const AIA = '1.3.6.1.5.5.7.1.1';
const CDP = '2.5.29.31';
const OCSP_METHOD = '1.3.6.1.5.5.7.48.1';
const MAX_BYTES = 10 * 1024 * 1024;

function pk(cert: X509Certificate): pkijs.Certificate {
  return pkijs.Certificate.fromBER(cert.raw);
}

/** OCSP responder and CRL distribution point URLs (http only, as the reference uses). */
export function revocationUrls(cert: X509Certificate): { ocsp: string[]; crl: string[] } {
  const out = { ocsp: [] as string[], crl: [] as string[] };
  for (const ext of pk(cert).extensions ?? []) {
    if (ext.extnID === AIA) {
      for (const d of (ext.parsedValue as pkijs.InfoAccess).accessDescriptions) {
        if (d.accessMethod === OCSP_METHOD && d.accessLocation.type === 6)
          out.ocsp.push(String(d.accessLocation.value));
      }
    } else if (ext.extnID === CDP) {
      for (const dp of (ext.parsedValue as pkijs.CRLDistributionPoints).distributionPoints) {
        const names = Array.isArray(dp.distributionPoint) ? dp.distributionPoint : [];
        for (const n of names as pkijs.GeneralName[]) if (n.type === 6) out.crl.push(String(n.value));
      }
    }
  }
  const http = (u: string): boolean => /^http:\/\//i.test(u);
  return { ocsp: out.ocsp.filter(http), crl: out.crl.filter(http) };
}

async function fetchBytes(
  url: string,
  init: { method: 'GET' | 'POST'; body?: Uint8Array; contentType?: string },
  timeoutMs: number
): Promise<Uint8Array> {
  const res = await request(url, {
    method: init.method,
    ...(init.body ? { body: Buffer.from(init.body) } : {}),
    headers: init.contentType ? { 'content-type': init.contentType } : {},
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res.body) {
    n += (c as Buffer).length;
    if (n > MAX_BYTES) throw new SignetError('SIZE_EXCEEDED', `response larger than ${MAX_BYTES} bytes`);
    chunks.push(c as Buffer);
  }
  if (res.statusCode !== 200) throw new SignetError('UNAVAILABLE', `HTTP ${res.statusCode}`);
  return Buffer.concat(chunks);
}

// Evaluated cached responses (same bytes, same certificate): verifying a response's signature
// again on every artifact would cost more than the verification it protects. Bounded.
const evaluated = new Map<string, { result: RevocationResult; until: number }>();

/** Checks one certificate with OCSP (RFC 6960) at one responder. */
async function ocspCheck(
  cert: X509Certificate,
  issuer: X509Certificate,
  url: string,
  options: CertCheckOptions
): Promise<RevocationResult> {
  const now = options.now ?? new Date();
  const cacheKey = `ocsp|${url}|${cert.serialNumber}|${issuer.fingerprint256}`;
  let bytes = await options.cache?.get(cacheKey);
  const fromCache = Boolean(bytes);
  const memoKey = bytes ? `${cacheKey}|${createHash('sha256').update(bytes).digest('hex')}` : '';
  const memo = memoKey ? evaluated.get(memoKey) : undefined;
  if (memo && memo.until > now.getTime()) return memo.result;
  const req = new pkijs.OCSPRequest();
  await req.createForCertificate(pk(cert), { hashAlgorithm: 'SHA-256', issuerCertificate: pk(issuer) });
  const nonce = randomBytes(16);
  req.tbsRequest.requestExtensions = [
    new pkijs.Extension({ extnID: OCSP_NONCE, extnValue: new asn1js.OctetString({ valueHex: nonce }).toBER(false) }),
  ];
  if (!bytes) {
    if (options.offline)
      return {
        status: 'unavailable',
        message: `offline: no cached OCSP response for ${describeCert(cert)} from ${url}`,
      };
    try {
      bytes = await fetchBytes(
        url,
        {
          method: 'POST',
          body: new Uint8Array(req.toSchema(true).toBER(false)),
          contentType: 'application/ocsp-request',
        },
        options.ocspTimeoutMs ?? 2000
      );
    } catch (err) {
      return { status: 'unavailable', message: `OCSP responder ${url} is unreachable: ${(err as Error).message}` };
    }
  }
  let basic: pkijs.BasicOCSPResponse;
  try {
    const resp = pkijs.OCSPResponse.fromBER(bytes);
    if (resp.responseStatus.valueBlock.valueDec !== 0 || !resp.responseBytes)
      return {
        status: 'unknown',
        message: `OCSP responder ${url} answered status ${resp.responseStatus.valueBlock.valueDec}`,
      };
    basic = pkijs.BasicOCSPResponse.fromBER(resp.responseBytes.response.valueBlock.valueHexView);
  } catch (err) {
    return { status: 'unknown', message: `OCSP response from ${url} is malformed: ${(err as Error).message}` };
  }
  // The response must be signed by the issuer, or by a responder the issuer delegated (EKU OCSPSigning).
  const issuerPk = pk(issuer);
  // A certificate the response carries that does not decode is no candidate (never an exception).
  const candidates = [issuer];
  for (const c of basic.certs ?? []) {
    try {
      candidates.push(new X509Certificate(Buffer.from(c.toSchema().toBER(false))));
    } catch {
      // undecodable: skipped
    }
  }
  let signerOk = false;
  for (const c of candidates) {
    const delegated = c !== issuer;
    try {
      if (delegated && (!issuedBy(c, issuer) || !certInfo(c).extKeyUsage?.purposes.includes(OID.ocspSigning))) continue;
      if (await basic.verify({ trustedCerts: [delegated ? pk(c) : issuerPk] })) {
        signerOk = true;
        break;
      }
    } catch {
      // try the next candidate
    }
  }
  if (!signerOk)
    return {
      status: 'unknown',
      message: `OCSP response from ${url} is not signed by the issuer of ${describeCert(cert)} or a responder it authorised`,
    };
  // A cached response answers an earlier request: its nonce is that request's, so only freshness counts.
  const respNonce = fromCache
    ? undefined
    : basic.tbsResponseData.responseExtensions?.find((e) => e.extnID === OCSP_NONCE);
  if (respNonce) {
    const v = asn1js.fromBER(respNonce.extnValue.valueBlock.valueHexView).result as asn1js.OctetString;
    if (!Buffer.from(v.valueBlock.valueHexView).equals(nonce))
      return { status: 'unknown', message: `OCSP response from ${url} carries another request's nonce` };
  }
  let status: { isForCertificate: boolean; status: number };
  try {
    status = await basic.getCertificateStatus(pk(cert), issuerPk);
  } catch (err) {
    return { status: 'unknown', message: `OCSP response from ${url} is malformed: ${(err as Error).message}` };
  }
  const single = basic.tbsResponseData.responses.find((r) => r.certID);
  if (single) {
    if (single.thisUpdate > new Date(now.getTime() + 5 * 60_000))
      return {
        status: 'unknown',
        message: `OCSP response from ${url} is from the future (thisUpdate ${single.thisUpdate.toISOString()})`,
      };
    if (single.nextUpdate && single.nextUpdate < now)
      return {
        status: 'unknown',
        message: `OCSP response from ${url} is stale (nextUpdate ${single.nextUpdate.toISOString()})`,
      };
  }
  if (!status.isForCertificate)
    return { status: 'unknown', message: `OCSP response from ${url} is not about ${describeCert(cert)}` };
  if (!fromCache && status.status !== 2) await options.cache?.set(cacheKey, bytes, single?.nextUpdate);
  const result: RevocationResult | undefined =
    status.status === 0
      ? { status: 'good', ...(single?.nextUpdate ? { nextUpdate: single.nextUpdate } : {}) }
      : status.status === 1
        ? revokedResult(cert, `OCSP ${url}`, invalidityDate(single?.singleExtensions), options)
        : undefined;
  if (result) {
    if (fromCache && single?.nextUpdate) {
      if (evaluated.size >= 4096) evaluated.delete(evaluated.keys().next().value!);
      evaluated.set(memoKey, { result, until: single.nextUpdate.getTime() });
    }
    return result;
  }
  return { status: 'unknown', message: `OCSP responder ${url} does not know ${describeCert(cert)}` };
}

/** Checks one certificate against a CRL (RFC 5280): signature by the issuer, validity, entry. */
async function crlCheck(
  cert: X509Certificate,
  issuer: X509Certificate,
  url: string,
  options: CertCheckOptions
): Promise<RevocationResult> {
  const now = options.now ?? new Date();
  let bytes = await options.cache?.get(`crl:${url}`);
  if (!bytes && options.bundle?.length) bytes = bundledCrlFor(issuer, options.bundle);
  if (!bytes) {
    if (options.offline)
      return { status: 'unavailable', message: `offline: no cached or bundled CRL for ${describeCert(cert)} (${url})` };
    try {
      bytes = await fetchBytes(url, { method: 'GET' }, options.crlTimeoutMs ?? 5000);
    } catch (err) {
      return { status: 'unavailable', message: `CRL ${url} cannot be downloaded: ${(err as Error).message}` };
    }
  }
  let crl: pkijs.CertificateRevocationList;
  try {
    crl = pkijs.CertificateRevocationList.fromBER(crlDer(bytes));
  } catch (err) {
    return { status: 'unknown', message: `CRL ${url} is malformed: ${(err as Error).message}` };
  }
  let signed = false;
  try {
    signed = await crl.verify({ issuerCertificate: pk(issuer) });
  } catch {
    signed = false;
  }
  if (!signed) return { status: 'unknown', message: `CRL ${url} is not signed by the issuer of ${describeCert(cert)}` };
  const next = crl.nextUpdate?.value;
  if (next && next < now)
    return { status: 'unknown', message: `CRL ${url} has expired (nextUpdate ${next.toISOString()})` };
  if (crl.thisUpdate.value > new Date(now.getTime() + 5 * 60_000))
    return { status: 'unknown', message: `CRL ${url} is from the future` };
  await options.cache?.set(`crl:${url}`, bytes, next);
  if (crl.isCertificateRevoked(pk(cert)))
    return revokedResult(
      cert,
      `CRL ${url}`,
      invalidityDate(crlEntry(crl, cert)?.crlEntryExtensions?.extensions),
      options
    );
  // Delta CRLs (RFC 5280 §5.2.6): revocations since the base, named by FreshestCRL in the
  // certificate or in the base CRL. A delta that cannot be had or trusted leaves the status unknown.
  for (const deltaUrl of freshestCrlUrls(cert, crl)) {
    const d = await deltaCheck(cert, issuer, crl, deltaUrl, options);
    if (d.status !== 'good') return d;
  }
  return { status: 'good', ...(next ? { nextUpdate: next } : {}) };
}

function crlEntry(crl: pkijs.CertificateRevocationList, cert: X509Certificate): pkijs.RevokedCertificate | undefined {
  const serial = Buffer.from(pk(cert).serialNumber.valueBlock.valueHexView);
  return crl.revokedCertificates?.find((r) => Buffer.from(r.userCertificate.valueBlock.valueHexView).equals(serial));
}

const FRESHEST_CRL = '2.5.29.46';
const DELTA_CRL_INDICATOR = '2.5.29.27';
const CRL_NUMBER = '2.5.29.20';

function distributionUrls(value: unknown): string[] {
  const out: string[] = [];
  for (const dp of (value as pkijs.CRLDistributionPoints | undefined)?.distributionPoints ?? []) {
    const names = Array.isArray(dp.distributionPoint) ? dp.distributionPoint : [];
    for (const n of names as pkijs.GeneralName[])
      if (n.type === 6 && /^http:\/\//i.test(String(n.value))) out.push(String(n.value));
  }
  return out;
}

function freshestCrlUrls(cert: X509Certificate, crl: pkijs.CertificateRevocationList): string[] {
  const fromCert = (pk(cert).extensions ?? [])
    .filter((e) => e.extnID === FRESHEST_CRL)
    .flatMap((e) => distributionUrls(pkijs.CRLDistributionPoints.fromBER(e.extnValue.valueBlock.valueHexView)));
  const fromCrl = (crl.crlExtensions?.extensions ?? [])
    .filter((e) => e.extnID === FRESHEST_CRL)
    .flatMap((e) => distributionUrls(pkijs.CRLDistributionPoints.fromBER(e.extnValue.valueBlock.valueHexView)));
  return [...new Set([...fromCert, ...fromCrl])];
}

function crlNumber(crl: pkijs.CertificateRevocationList, oid: string): bigint | undefined {
  const ext = crl.crlExtensions?.extensions.find((e) => e.extnID === oid);
  if (!ext) return undefined;
  const v = asn1js.fromBER(ext.extnValue.valueBlock.valueHexView).result as asn1js.Integer;
  return BigInt(`0x${Buffer.from(v.valueBlock.valueHexView).toString('hex') || '0'}`);
}

async function deltaCheck(
  cert: X509Certificate,
  issuer: X509Certificate,
  base: pkijs.CertificateRevocationList,
  url: string,
  options: CertCheckOptions
): Promise<RevocationResult> {
  const now = options.now ?? new Date();
  let bytes = await options.cache?.get(`crl:${url}`);
  if (!bytes) {
    if (options.offline) return { status: 'unavailable', message: `offline: no cached delta CRL ${url}` };
    try {
      bytes = await fetchBytes(url, { method: 'GET' }, options.crlTimeoutMs ?? 5000);
    } catch (err) {
      return { status: 'unavailable', message: `delta CRL ${url} cannot be downloaded: ${(err as Error).message}` };
    }
  }
  let delta: pkijs.CertificateRevocationList;
  try {
    delta = pkijs.CertificateRevocationList.fromBER(crlDer(bytes));
  } catch (err) {
    return { status: 'unknown', message: `delta CRL ${url} is malformed: ${(err as Error).message}` };
  }
  const baseNumber = crlNumber(delta, DELTA_CRL_INDICATOR);
  if (baseNumber === undefined)
    return { status: 'unknown', message: `${url} is not a delta CRL (no deltaCRLIndicator)` };
  const have = crlNumber(base, CRL_NUMBER);
  if (have === undefined || have < baseNumber)
    return { status: 'unknown', message: `delta CRL ${url} needs base CRL number ${baseNumber} or later` };
  let signed = false;
  try {
    signed = await delta.verify({ issuerCertificate: pk(issuer) });
  } catch {
    signed = false;
  }
  if (!signed)
    return { status: 'unknown', message: `delta CRL ${url} is not signed by the issuer of ${describeCert(cert)}` };
  const next = delta.nextUpdate?.value;
  if (next && next < now)
    return { status: 'unknown', message: `delta CRL ${url} has expired (nextUpdate ${next.toISOString()})` };
  await options.cache?.set(`crl:${url}`, bytes, next);
  if (delta.isCertificateRevoked(pk(cert)))
    return revokedResult(
      cert,
      `delta CRL ${url}`,
      invalidityDate(crlEntry(delta, cert)?.crlEntryExtensions?.extensions),
      options
    );
  return { status: 'good' };
}

function crlDer(bytes: Uint8Array): Buffer {
  const text = Buffer.from(bytes).toString('latin1');
  return text.includes('-----BEGIN X509 CRL-----')
    ? Buffer.from(text.replace(/-----(BEGIN|END) X509 CRL-----|\s/g, ''), 'base64')
    : Buffer.from(bytes);
}

/** The bundled CRL whose issuer name is the certificate issuer's (its signature is checked on use). */
function bundledCrlFor(issuer: X509Certificate, bundle: Uint8Array[]): Uint8Array | undefined {
  const want = Buffer.from(pk(issuer).subject.toSchema().toBER(false));
  for (const b of bundle) {
    try {
      const crl = pkijs.CertificateRevocationList.fromBER(crlDer(b));
      if (Buffer.from(crl.issuer.toSchema().toBER(false)).equals(want)) return b;
    } catch {
      // not a CRL: ignored
    }
  }
  return undefined;
}

/**
 * Revocation status of a chain (leaf first), as the Notary Project specifies: each certificate
 * but the root, OCSP first and the CRL when OCSP cannot tell; a certificate that names neither
 * is not revocable. Any revoked → revoked; then any unknown → unknown; then any unreachable →
 * unavailable (inconclusive).
 */
export async function checkRevocation(
  chain: X509Certificate[],
  options: RevocationOptions = {}
): Promise<RevocationResult> {
  const results: RevocationResult[] = [];
  for (let i = 0; i < chain.length - 1; i++) {
    const cert = chain[i]!;
    const issuer = chain[i + 1]!;
    // Most chains name no responder at all: decide that from the cached facts, without parsing.
    if (!certInfo(cert).revocationInfo) {
      results.push({ status: 'good', message: `${describeCert(cert)} names no OCSP responder or CRL: not revocable` });
      continue;
    }
    const urls = revocationUrls(cert);
    const role = i === 0 ? 'signing certificate' : 'issuing CA certificate';
    const certOptions: CertCheckOptions = { ...options, role };
    let r: RevocationResult | undefined;
    for (const u of urls.ocsp) {
      r = await ocspCheck(cert, issuer, u, certOptions);
      if (r.status === 'good' || r.status === 'revoked') break;
    }
    if ((!r || r.status === 'unknown' || r.status === 'unavailable') && urls.crl.length) {
      for (const u of urls.crl) {
        const c = await crlCheck(cert, issuer, u, certOptions);
        if (!r || c.status === 'good' || c.status === 'revoked' || r.status === 'unavailable') r = c;
        if (c.status === 'good' || c.status === 'revoked') break;
      }
    }
    results.push(
      r ?? { status: 'good', message: `${describeCert(cert)} names no OCSP responder or CRL: not revocable` }
    );
  }
  for (const s of ['revoked', 'unknown', 'unavailable'] as const) {
    const hit = results.find((r) => r.status === s);
    if (hit) return hit;
  }
  // Keep the one good answer worth reading: a revocation forgiven by its invalidity date. The
  // answer holds until the earliest nextUpdate of the evidence (what a verdict cache must respect).
  const forgiven = results.find((r) => r.message?.includes('invalidity date')) ?? { status: 'good' as const };
  const next = results.reduce<Date | undefined>(
    (m, r) => (r.nextUpdate && (!m || r.nextUpdate < m) ? r.nextUpdate : m),
    undefined
  );
  return next ? { ...forgiven, nextUpdate: next } : forgiven;
}
