import { isAscii, isUtf8 } from 'node:buffer';
import type { KeyObject, X509Certificate } from 'node:crypto';
import { algorithmByJws, certificateFromDer, verifyPrimitive, type AlgorithmInfo } from '../../pki/index.ts';
import { SignetError } from '../../util/index.ts';
import { checkChainLength, H, formatRfc3339, malformed, parseRfc3339, type DecodedHeaders } from './headers.ts';
import { goJson } from './payload.ts';
import { PAYLOAD_CONTENT_TYPE, type ExtendedAttribute } from './types.ts';
import type { RawEnvelope, RawSignRequest } from './raw.ts';

const B64URL = /^[A-Za-z0-9_-]*$/;
const B64STD = /^[A-Za-z0-9+/]*={0,2}$/;
const KNOWN = new Set(['alg', 'cty', 'crit', H.expiry, H.signingTime, H.signingScheme, H.authenticSigningTime]);

function b64url(bytes: Uint8Array | string): string {
  return Buffer.from(bytes).toString('base64url');
}

/** Signs a JWS (JSON flattened serialization) with exactly notation's byte layout (notary-spec §5). */
export async function signJws(req: RawSignRequest): Promise<Uint8Array> {
  const crit = [H.signingScheme, ...req.extendedAttributes.filter((a) => a.critical).map((a) => a.key)];
  if (req.signingScheme === 'notary.x509.signingAuthority') crit.push(H.authenticSigningTime);
  if (req.expiry) crit.push(H.expiry);
  const header: Record<string, unknown> = {
    alg: req.algorithm.jws,
    crit,
    cty: PAYLOAD_CONTENT_TYPE,
    [H.signingScheme]: req.signingScheme,
  };
  header[req.signingScheme === 'notary.x509' ? H.signingTime : H.authenticSigningTime] = formatRfc3339(req.signingTime);
  if (req.expiry) header[H.expiry] = formatRfc3339(req.expiry);
  for (const a of req.extendedAttributes) header[a.key] = a.value;
  // Go marshals the header map with its keys sorted.
  const sorted = Object.fromEntries(
    Object.keys(header)
      .sort()
      .map((k) => [k, header[k]])
  );
  const protectedB64 = b64url(goJson(sorted));
  const payloadB64 = b64url(req.payload);
  const signature = await req.signer.sign(
    Buffer.from(`${protectedB64}.${payloadB64}`, 'ascii'),
    req.algorithm.algorithm
  );
  const unprotected: Record<string, unknown> = {};
  if (req.timestamp)
    unprotected[H.timestampSignature] = Buffer.from(await req.timestamp(signature, req.algorithm.hash)).toString(
      'base64'
    );
  unprotected.x5c = req.chain.map((c) => Buffer.from(c.raw).toString('base64'));
  if (req.signingAgent) unprotected[H.signingAgent] = req.signingAgent;
  return Buffer.from(
    goJson({ payload: payloadB64, protected: protectedB64, header: unprotected, signature: b64url(signature) }),
    'utf8'
  );
}

function decodeB64url(value: unknown, what: string): Buffer {
  // Padding or characters outside the URL alphabet are an integrity failure, as in the reference.
  if (typeof value !== 'string' || !B64URL.test(value)) malformed(`JWS ${what} is not unpadded base64url`);
  return Buffer.from(value, 'base64url');
}

/** What the signature check of a parsed JWS needs besides the envelope fields. */
export interface JwsParts {
  /** ASCII(BASE64URL(protected) '.' payload member), the JWS Signing Input (RFC 7515 §5.2). */
  signingInput: Buffer;
  protectedBytes: Buffer;
  protectedHeader: Record<string, unknown>;
  unprotectedHeader: Record<string, unknown>;
  /** The payload member as given (signed as is when `b64` is false). */
  payloadMember: string;
}

// x5c entries already turned into certificates, keyed by the last characters of their base64
// (the certificate's signature bits: distinct per certificate) and confirmed by comparing the whole
// text, which is cheaper than hashing it or running the base64 pattern over it again. A hit is a
// string that already passed exactly the checks below (the pattern, certificateFromDer), both pure
// functions of the string, so it gets the same certificate object as before. Bounded (oldest out).
const x5cSeen = new Map<string, { b64: string; cert: X509Certificate }>();
const X5C_SEEN_MAX = 1024;
const X5C_TAIL = 48;

function x5cCertificate(c: unknown, i: number): X509Certificate {
  const tail = typeof c === 'string' && c.length > X5C_TAIL ? c.slice(-X5C_TAIL) : undefined;
  if (tail !== undefined) {
    const seen = x5cSeen.get(tail);
    if (seen && seen.b64 === c) return seen.cert;
  }
  if (typeof c !== 'string' || !B64STD.test(c)) malformed(`x5c[${i}] is not base64`);
  let cert: X509Certificate;
  try {
    cert = certificateFromDer(c);
  } catch (err) {
    malformed(`x5c[${i}] is not a certificate: ${(err as Error).message}`);
  }
  if (tail !== undefined) {
    x5cSeen.delete(tail);
    if (x5cSeen.size >= X5C_SEEN_MAX) x5cSeen.delete(x5cSeen.keys().next().value!);
    x5cSeen.set(tail, { b64: c, cert });
  }
  return cert;
}

/**
 * UTF-8 text of bytes, without copying them first when they are a Buffer or a view of one. ASCII
 * (what an envelope is) decodes to the same text as latin1, which is a plain copy.
 */
function utf8(bytes: Uint8Array): string {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return isAscii(buf) ? buf.toString('latin1') : buf.toString('utf8');
}

/** Parses a notation JWS envelope without checking its signature. */
export function parseJws(bytes: Uint8Array): RawEnvelope & { jws: JwsParts } {
  let env: Record<string, unknown>;
  try {
    env = JSON.parse(utf8(bytes)) as Record<string, unknown>;
  } catch (err) {
    malformed(`JWS envelope is not JSON: ${(err as Error).message}`);
  }
  if (!env || typeof env !== 'object' || Array.isArray(env)) malformed('JWS envelope is not a JSON object');
  if ('signatures' in env) malformed('JWS general serialization is not supported (want the flattened form)');
  const protectedBytes = decodeB64url(env.protected, 'protected header');
  const payload = decodeB64url(env.payload, 'payload');
  const signature = decodeB64url(env.signature, 'signature');
  let hdr: Record<string, unknown>;
  try {
    hdr = JSON.parse(protectedBytes.toString('utf8')) as Record<string, unknown>;
  } catch {
    malformed('JWS protected header is not JSON');
  }
  if (!hdr || typeof hdr !== 'object' || Array.isArray(hdr)) malformed('JWS protected header is not a JSON object');
  const unprotected = (env.header ?? {}) as Record<string, unknown>;
  if (typeof unprotected !== 'object' || Array.isArray(unprotected))
    malformed('JWS unprotected header is not an object');
  const x5c = unprotected.x5c;
  if (!Array.isArray(x5c) || x5c.length === 0) malformed('JWS envelope has no certificate chain (x5c)');
  checkChainLength(x5c.length, 'the JWS certificate chain (x5c)');
  const chain = x5c.map(x5cCertificate);
  const crit = hdr.crit;
  if (crit !== undefined && (!Array.isArray(crit) || crit.some((c) => typeof c !== 'string')))
    malformed('crit must be an array of header names');
  for (const name of (crit as string[] | undefined) ?? [])
    if (!(name in hdr)) malformed(`critical header ${name} is not present`);
  const extended: ExtendedAttribute[] = Object.keys(hdr)
    .filter((k) => !KNOWN.has(k))
    .map((k) => ({ key: k, value: hdr[k], critical: ((crit as string[] | undefined) ?? []).includes(k) }));
  const headers: DecodedHeaders = {
    crit: (crit as string[] | undefined) ?? [],
    contentType: hdr.cty,
    signingScheme: hdr[H.signingScheme],
    extended,
  };
  if (hdr[H.signingTime] !== undefined) headers.signingTime = parseRfc3339(hdr[H.signingTime], 'signingTime');
  if (hdr[H.authenticSigningTime] !== undefined)
    headers.authenticSigningTime = parseRfc3339(hdr[H.authenticSigningTime], 'authenticSigningTime');
  if (hdr[H.expiry] !== undefined) headers.expiry = parseRfc3339(hdr[H.expiry], 'expiry');
  const ts = unprotected[H.timestampSignature];
  if (ts !== undefined && (typeof ts !== 'string' || !B64STD.test(ts))) malformed('timestampSignature is not base64');
  const agent = unprotected[H.signingAgent];
  const jws: JwsParts = {
    signingInput: Buffer.from(`${env.protected as string}.${env.payload as string}`, 'ascii'),
    protectedBytes,
    protectedHeader: hdr,
    unprotectedHeader: unprotected,
    payloadMember: env.payload as string,
  };
  const raw: RawEnvelope & { jws: JwsParts } = { payload, signature, chain, headers, algorithmHeader: hdr.alg, jws };
  if (typeof ts === 'string') raw.timestampSignature = Buffer.from(ts, 'base64');
  if (typeof agent === 'string') raw.signingAgent = agent;
  return raw;
}

// The leaf's public key, per certificate object: certificateFromDer hands out one object per
// distinct certificate, so every signature of one signer reuses the KeyObject (a WeakMap: bounded
// by the certificate cache, nothing to evict).
const keys = new WeakMap<X509Certificate, KeyObject>();

function verificationKey(leaf: X509Certificate): KeyObject {
  let key = keys.get(leaf);
  if (!key) {
    key = leaf.publicKey;
    keys.set(leaf, key);
  }
  return key;
}

function invalid(reason: string): never {
  throw new SignetError(
    'SIGNATURE_INVALID',
    `the envelope signature does not verify with the signing certificate's key (${reason})`
  );
}

/**
 * Verifies the JWS signature (RFC 7515, flattened JSON serialization) with a synchronous
 * node:crypto verify, the algorithm pinned to the one the key dictates. The structural rules a
 * JOSE library applies are applied here too, with the same outcome (SIGNATURE_INVALID): header
 * names disjoint between the protected and unprotected headers, `crit` integrity protected and a
 * non-empty array of non-empty names each present in the protected header, `b64` (RFC 7797) a
 * boolean when critical. WebCrypto through jose cost ten times the key operation here.
 */
export function verifyJwsSignature(raw: RawEnvelope & { jws: JwsParts }, alg: AlgorithmInfo): void {
  if (algorithmByJws(raw.algorithmHeader)?.algorithm !== alg.algorithm) {
    throw new SignetError(
      'ALGORITHM_MISMATCH',
      `mismatch between signature algorithm derived from signing certificate (${alg.jws}) and signing algorithm specified (${String(raw.algorithmHeader)})`
    );
  }
  const { protectedHeader: prot, unprotectedHeader: unprot } = raw.jws;
  // Well-formed UTF-8, as a fatal TextDecoder would require (checked without decoding again).
  if (!isUtf8(raw.jws.protectedBytes)) invalid('JWS Protected Header is invalid');
  for (const name of Object.keys(unprot))
    if (Object.hasOwn(prot, name)) invalid('JWS Protected and JWS Unprotected Header Parameter names must be disjoint');
  if (unprot.crit !== undefined && prot.crit === undefined)
    invalid('"crit" (Critical) Header Parameter MUST be integrity protected');
  const crit = prot.crit;
  if (crit !== undefined) {
    if (!Array.isArray(crit) || crit.length === 0 || crit.some((c) => typeof c !== 'string' || c.length === 0))
      invalid('"crit" (Critical) Header Parameter MUST be an array of non-empty strings when present');
    for (const name of crit as string[])
      if (!Object.hasOwn(prot, name) || prot[name] === undefined)
        invalid(`Extension Header Parameter "${name}" MUST be integrity protected`);
  }
  let signingInput = raw.jws.signingInput;
  if (Array.isArray(crit) && crit.includes('b64')) {
    if (typeof prot.b64 !== 'boolean')
      invalid('The "b64" (base64url-encode payload) Header Parameter must be a boolean');
    // RFC 7797: an unencoded payload is signed as it stands in the envelope.
    if (!prot.b64)
      signingInput = Buffer.concat([
        signingInput.subarray(0, signingInput.indexOf(0x2e) + 1),
        Buffer.from(raw.jws.payloadMember, 'utf8'),
      ]);
  }
  // WebCrypto refuses an ECDSA signature that is not exactly r‖s; node:crypto is told the same.
  if (alg.ecSize && raw.signature.length !== 2 * alg.ecSize) invalid('signature verification failed');
  let ok = false;
  try {
    ok = verifyPrimitive(alg, verificationKey(raw.chain[0]!), signingInput, raw.signature);
  } catch {
    ok = false;
  }
  if (!ok) invalid('signature verification failed');
}
