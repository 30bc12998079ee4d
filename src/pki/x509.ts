import { X509Certificate } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { SignetError } from '../util/index.ts';

export const OID = {
  keyUsage: '2.5.29.15',
  basicConstraints: '2.5.29.19',
  extKeyUsage: '2.5.29.37',
  codeSigning: '1.3.6.1.5.5.7.3.3',
  timeStamping: '1.3.6.1.5.5.7.3.8',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  emailProtection: '1.3.6.1.5.5.7.3.4',
  ocspSigning: '1.3.6.1.5.5.7.3.9',
  anyExtendedKeyUsage: '2.5.29.37.0',
} as const;

const SHA1_SIGNATURES = new Set(['1.2.840.113549.1.1.5', '1.2.840.10045.4.1', '1.3.14.3.2.29']);

/** Key usage bits (RFC 5280 §4.2.1.3). */
export const KU = {
  digitalSignature: 0,
  nonRepudiation: 1,
  keyEncipherment: 2,
  dataEncipherment: 3,
  keyAgreement: 4,
  keyCertSign: 5,
  cRLSign: 6,
  encipherOnly: 7,
  decipherOnly: 8,
} as const;
export type KeyUsageName = keyof typeof KU;

const SHORT_NAMES: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.11': 'OU',
  '2.5.4.10': 'O',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.6': 'C',
  '2.5.4.9': 'STREET',
  '2.5.4.17': 'POSTALCODE',
  '2.5.4.5': 'SERIALNUMBER',
};

/** The extensions and facts the Notary Project rules look at, parsed with pkijs. */
export interface CertInfo {
  cert: X509Certificate;
  keyUsage?: { critical: boolean; usages: Set<KeyUsageName> };
  basicConstraints?: { critical: boolean; ca: boolean; pathLength?: number };
  extKeyUsage?: { critical: boolean; purposes: string[] };
  signatureAlgorithmOid: string;
  sha1Signature: boolean;
  /** Subject attributes in encoded order, short names where known, else the OID. */
  subject: Array<{ type: string; value: string }>;
  selfSigned: boolean;
  /** The certificate names an OCSP responder (AIA) or a CRL distribution point. */
  revocationInfo: boolean;
}

// Parsed facts per certificate, by fingerprint: the same signing chain arrives with every
// signature, and parsing it (and checking its self-signature) dominates verification otherwise.
// Bounded so a stream of distinct certificates cannot grow it without limit.
const cache = new Map<string, Omit<CertInfo, 'cert'>>();
const CACHE_MAX = 2048;

function bitSet(bytes: Uint8Array, bit: number): boolean {
  const byte = bytes[bit >> 3];
  return byte !== undefined && (byte & (0x80 >> (bit & 7))) !== 0;
}

// And per certificate object: certificateFromDer hands out one object per distinct certificate,
// so the facts of a signing chain are one WeakMap lookup away (no fingerprint, no copy).
const byObject = new WeakMap<X509Certificate, CertInfo>();

/** Whether pkijs decoded a known extension into the shape read below. */
function isDecoded(oid: string, v: unknown): boolean {
  if (typeof v !== 'object' || v === null) return false;
  if (oid === OID.keyUsage) return (v as asn1js.BitString).valueBlock?.valueHexView instanceof Uint8Array;
  if (oid === OID.extKeyUsage) return Array.isArray((v as pkijs.ExtKeyUsage).keyPurposes);
  return true;
}

/**
 * A parsed name's DER as the certificate encodes it (pkijs keeps those bytes), else encoded again:
 * toSchema() parses the kept bytes once more and toBER() encodes the result, a cold start's 4 ms.
 */
function nameDer(name: pkijs.RelativeDistinguishedNames): Buffer {
  return name.valueBeforeDecode.byteLength ? Buffer.from(name.valueBeforeDecode) : Buffer.from(name.toSchema().toBER());
}

export function certInfo(cert: X509Certificate): CertInfo {
  const known = byObject.get(cert);
  if (known) return known;
  const key = cert.fingerprint256;
  const hit = cache.get(key);
  if (hit) {
    const info = { ...hit, cert };
    byObject.set(cert, info);
    return info;
  }
  let parsed: pkijs.Certificate;
  try {
    parsed = pkijs.Certificate.fromBER(cert.raw);
  } catch (err) {
    throw new SignetError(
      'CERT_INVALID',
      `certificate ${cert.subject.replace(/\n/g, ', ')} cannot be parsed: ${(err as Error).message}`
    );
  }
  const info: CertInfo = {
    cert,
    signatureAlgorithmOid: parsed.signatureAlgorithm.algorithmId,
    sha1Signature: SHA1_SIGNATURES.has(parsed.signatureAlgorithm.algorithmId),
    subject: parsed.subject.typesAndValues.map((tv) => ({
      type: SHORT_NAMES[tv.type] ?? tv.type,
      value: String((tv.value.valueBlock as { value?: unknown }).value ?? ''),
    })),
    revocationInfo: (parsed.extensions ?? []).some((e) => e.extnID === '2.5.29.31' || e.extnID === '1.3.6.1.5.5.7.1.1'),
    selfSigned: nameDer(parsed.subject).equals(nameDer(parsed.issuer)) && safeVerify(cert, cert),
  };
  for (const ext of parsed.extensions ?? []) {
    const critical = ext.critical ?? false;
    // pkijs leaves parsedValue unset when a known extension's value does not decode.
    const known = ext.extnID === OID.keyUsage || ext.extnID === OID.basicConstraints || ext.extnID === OID.extKeyUsage;
    if (known && !isDecoded(ext.extnID, ext.parsedValue))
      throw new SignetError(
        'CERT_INVALID',
        `certificate ${cert.subject.replace(/\n/g, ', ')}: extension ${ext.extnID} is malformed`
      );
    if (ext.extnID === OID.keyUsage) {
      const bits = (ext.parsedValue as asn1js.BitString).valueBlock.valueHexView;
      const usages = new Set<KeyUsageName>();
      for (const [name, bit] of Object.entries(KU) as Array<[KeyUsageName, number]>)
        if (bitSet(bits, bit)) usages.add(name);
      info.keyUsage = { critical, usages };
    } else if (ext.extnID === OID.basicConstraints) {
      const bc = ext.parsedValue as pkijs.BasicConstraints;
      info.basicConstraints = { critical, ca: Boolean(bc.cA) };
      if (bc.pathLenConstraint !== undefined) {
        info.basicConstraints.pathLength =
          typeof bc.pathLenConstraint === 'number'
            ? bc.pathLenConstraint
            : (bc.pathLenConstraint as asn1js.Integer).valueBlock.valueDec;
      }
    } else if (ext.extnID === OID.extKeyUsage) {
      info.extKeyUsage = { critical, purposes: (ext.parsedValue as pkijs.ExtKeyUsage).keyPurposes };
    }
  }
  if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value!);
  const { cert: _c, ...facts } = info;
  cache.set(key, facts);
  byObject.set(cert, info);
  return info;
}

function safeVerify(cert: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return cert.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

const issuedCache = new Map<string, boolean>();

/** True when `cert` was issued by `issuer`: issuer DN bytes equal and the signature verifies. */
export function issuedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
  const key = `${cert.fingerprint256}/${issuer.fingerprint256}`;
  const hit = issuedCache.get(key);
  if (hit !== undefined) return hit;
  const ok = cert.checkIssued(issuer) && safeVerify(cert, issuer);
  if (issuedCache.size >= CACHE_MAX) issuedCache.delete(issuedCache.keys().next().value!);
  issuedCache.set(key, ok);
  return ok;
}

const described = new WeakMap<X509Certificate, string>();

/** A short human name for messages: the subject on one line. */
export function describeCert(cert: X509Certificate): string {
  let name = described.get(cert);
  if (name === undefined) {
    name = cert.subject.split('\n').reverse().join(', ');
    described.set(cert, name);
  }
  return name;
}

const parsedDer = new Map<string, X509Certificate>();

/**
 * The length of the DER element that starts `der` (header and contents), or a reason it has none:
 * an outer SEQUENCE with a definite, minimally encoded length that fits in the bytes given.
 */
function outerSequenceLength(der: Uint8Array): number | string {
  if (der.length < 2 || der[0] !== 0x30) return 'it does not start with a DER SEQUENCE';
  const first = der[1]!;
  if (first < 0x80) return 2 + first;
  const n = first & 0x7f;
  if (n === 0) return 'it uses an indefinite length (BER, not DER)';
  if (n > 4 || der.length < 2 + n) return 'its outer length is not a DER length';
  let length = 0;
  for (let i = 0; i < n; i++) length = length * 256 + der[2 + i]!;
  if (der[2] === 0 || length < 0x80) return 'its outer length is not minimally encoded (BER, not DER)';
  return 2 + n + length;
}

/**
 * Refuses certificate bytes that are not exactly one DER certificate: Node's X509Certificate
 * ignores bytes after the outer SEQUENCE, which would let the same certificate travel in many
 * byte forms (notation refuses them). `where` names the certificate (e.g. `x5c[1]`).
 */
function checkSingleDer(der: Uint8Array, where: string): void {
  const length = outerSequenceLength(der);
  if (typeof length === 'string') {
    throw new SignetError('CERT_INVALID', `${where} is not a DER certificate: ${length}`);
  }
  if (length > der.length) {
    const message = `${where} is truncated: its DER declares ${length} bytes, ${der.length} given`;
    throw new SignetError('CERT_INVALID', message);
  }
  if (length < der.length) {
    const extra = der.length - length;
    const message = `${where} has ${extra} trailing byte${extra === 1 ? '' : 's'} after its DER`;
    throw new SignetError('CERT_INVALID', message);
  }
}

/**
 * A certificate from DER (bytes or standard base64), shared between calls: every signature of
 * one signer carries the same chain, and building an X509Certificate is the single largest cost
 * of verifying an envelope. Bounded; the object is immutable. The bytes must be exactly one DER
 * certificate (no trailing data); `where` names it in the error, e.g. `certificate 2`.
 */
export function certificateFromDer(der: Uint8Array | string, where = 'certificate'): X509Certificate {
  const key = typeof der === 'string' ? der : Buffer.from(der).toString('base64');
  const hit = parsedDer.get(key);
  if (hit) return hit;
  const bytes = typeof der === 'string' ? Buffer.from(der, 'base64') : Buffer.from(der);
  checkSingleDer(bytes, where);
  const cert = new X509Certificate(bytes);
  if (parsedDer.size >= CACHE_MAX) parsedDer.delete(parsedDer.keys().next().value!);
  parsedDer.set(key, cert);
  return cert;
}

/** Parses PEM (one or many certificates) or DER bytes. */
export function parseCertificates(data: Uint8Array | string, where = 'certificate'): X509Certificate[] {
  const text = typeof data === 'string' ? data : Buffer.from(data).toString('latin1');
  if (text.includes('-----BEGIN CERTIFICATE-----')) {
    const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    // A BEGIN line without a complete block is no certificate: never an empty chain.
    if (!blocks.length) throw new SignetError('CERT_FILE_INVALID', `${where}: no complete PEM certificate block`);
    return blocks.map((b, i) => {
      try {
        return new X509Certificate(b);
      } catch (err) {
        throw new SignetError(
          'CERT_FILE_INVALID',
          `${where}: certificate ${i + 1} is not valid: ${(err as Error).message}`
        );
      }
    });
  }
  try {
    return [new X509Certificate(typeof data === 'string' ? Buffer.from(data, 'latin1') : Buffer.from(data))];
  } catch (err) {
    throw new SignetError('CERT_FILE_INVALID', `${where}: not a PEM or DER certificate: ${(err as Error).message}`);
  }
}

export function toPem(certs: X509Certificate[]): string {
  return certs.map((c) => c.toString().trim()).join('\n') + '\n';
}
