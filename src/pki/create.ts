import { generateKeyPairSync, randomBytes, webcrypto, X509Certificate, type KeyObject } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { SignetError } from '../util/index.ts';
import { OID } from './x509.ts';

import { KEY_TYPES, type KeyType } from './key-types.ts';

export { KEY_TYPES, type KeyType };

/** A new key pair of one of the types the Notary Project allows. */
export function generateKeyPair(type: KeyType): { privateKey: KeyObject; publicKey: KeyObject } {
  switch (type) {
    case 'ecdsa-p256':
      return generateKeyPairSync('ec', { namedCurve: 'P-256' });
    case 'ecdsa-p384':
      return generateKeyPairSync('ec', { namedCurve: 'P-384' });
    case 'ecdsa-p521':
      return generateKeyPairSync('ec', { namedCurve: 'P-521' });
    case 'rsa-2048':
    case 'rsa-3072':
    case 'rsa-4096':
      return generateKeyPairSync('rsa', { modulusLength: Number(type.slice(4)) });
    default:
      throw new SignetError('USAGE', `unknown key type ${JSON.stringify(type)}; choose one of ${KEY_TYPES.join(', ')}`);
  }
}

const DN_OIDS: Record<string, string> = {
  CN: '2.5.4.3',
  OU: '2.5.4.11',
  O: '2.5.4.10',
  L: '2.5.4.7',
  ST: '2.5.4.8',
  S: '2.5.4.8',
  C: '2.5.4.6',
  STREET: '2.5.4.9',
  POSTALCODE: '2.5.4.17',
  SERIALNUMBER: '2.5.4.5',
};

/** Parses `CN=x,O=y,ST=WA,C=US` (escaped commas allowed) into RDN pairs, in the given order. */
export function parseDn(dn: string): Array<{ type: string; value: string }> {
  const out: Array<{ type: string; value: string }> = [];
  let cur = '';
  const parts: string[] = [];
  for (let i = 0; i < dn.length; i++) {
    const ch = dn[i]!;
    if (ch === '\\' && i + 1 < dn.length) {
      cur += dn[++i];
      continue;
    }
    if (ch === ',') {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  parts.push(cur);
  for (const p of parts) {
    const i = p.indexOf('=');
    const type = p.slice(0, i).trim().toUpperCase();
    const value = p.slice(i + 1).trim();
    if (i <= 0 || !DN_OIDS[type] || !value)
      throw new SignetError(
        'USAGE',
        `invalid subject ${JSON.stringify(dn)}: want attributes like CN=name,O=org,ST=WA,C=US (known: ${Object.keys(DN_OIDS).join(', ')})`
      );
    out.push({ type: type === 'S' ? 'ST' : type, value });
  }
  return out;
}

function rdn(dn: string): pkijs.RelativeDistinguishedNames {
  // RFC 4514 strings list the most specific attribute first; the encoding goes root-first, one
  // attribute per RDN. pkijs would put every attribute into one multi-valued RDN when building a
  // Name from scratch, so the SEQUENCE OF SET is built with asn1js and parsed back.
  const seq = new asn1js.Sequence({
    value: parseDn(dn)
      .reverse()
      .map(
        ({ type, value }) =>
          new asn1js.Set({
            value: [
              new pkijs.AttributeTypeAndValue({
                type: DN_OIDS[type]!,
                value: type === 'C' ? new asn1js.PrintableString({ value }) : new asn1js.Utf8String({ value }),
              }).toSchema(),
            ],
          })
      ),
  });
  return pkijs.RelativeDistinguishedNames.fromBER(seq.toBER(false));
}

async function toWebKey(key: KeyObject, usage: 'sign' | 'verify'): Promise<{ key: webcrypto.CryptoKey; hash: string }> {
  const isPrivate = key.type === 'private';
  const der = key.export({ format: 'der', type: isPrivate ? 'pkcs8' : 'spki' });
  if (key.asymmetricKeyType === 'rsa') {
    const alg = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
    return {
      key: await webcrypto.subtle.importKey(isPrivate ? 'pkcs8' : 'spki', der, alg, true, [usage]),
      hash: 'SHA-256',
    };
  }
  const curve = key.asymmetricKeyDetails?.namedCurve;
  const namedCurve = curve === 'prime256v1' ? 'P-256' : curve === 'secp384r1' ? 'P-384' : 'P-521';
  const hash = namedCurve === 'P-256' ? 'SHA-256' : namedCurve === 'P-384' ? 'SHA-384' : 'SHA-512';
  return {
    key: await webcrypto.subtle.importKey(isPrivate ? 'pkcs8' : 'spki', der, { name: 'ECDSA', namedCurve }, true, [
      usage,
    ]),
    hash,
  };
}

export interface CertificateRequest {
  /** e.g. `CN=release,O=Example,ST=WA,C=US` */
  subject: string;
  publicKey: KeyObject;
  /** Issuer certificate and key; omitted: self-signed with `signingKey`. */
  issuer?: { cert: X509Certificate; privateKey: KeyObject };
  /** The subject's own private key (needed for self-signed certificates). */
  signingKey?: KeyObject;
  ca?: boolean;
  pathLength?: number;
  notBefore?: Date;
  notAfter?: Date;
  /** Default: codeSigning for leaves, none for CAs. */
  extendedKeyUsage?: 'codeSigning' | 'timeStamping' | 'none' | string[];
  /** Override key usages (tests build bad certificates with this). */
  keyUsage?: Array<
    'digitalSignature' | 'keyEncipherment' | 'keyCertSign' | 'cRLSign' | 'dataEncipherment' | 'keyAgreement'
  >;
  keyUsageCritical?: boolean;
  /** Leave basicConstraints out of a leaf (it is optional there). */
  omitBasicConstraints?: boolean;
  /** Extra extensions, e.g. AIA / CRL distribution points (the revocation work adds them). */
  extraExtensions?: pkijs.Extension[];
}

const KU_BITS: Record<string, number> = {
  digitalSignature: 0x80,
  keyEncipherment: 0x20,
  dataEncipherment: 0x10,
  keyAgreement: 0x08,
  keyCertSign: 0x04,
  cRLSign: 0x02,
};

/** Creates an X.509 v3 certificate with pkijs (self-signed, or issued by a local CA key). */
export async function createCertificate(req: CertificateRequest): Promise<X509Certificate> {
  const cert = new pkijs.Certificate();
  cert.version = 2;
  const serial = randomBytes(16);
  // positive and minimal in DER: a leading 0x00 byte followed by a byte < 0x80 is not valid DER
  serial[0] = (serial[0]! & 0x7f) | 0x40;
  cert.serialNumber = new asn1js.Integer({ valueHex: serial });
  cert.subject = rdn(req.subject);
  cert.issuer = req.issuer ? pkijs.Certificate.fromBER(req.issuer.cert.raw).subject : rdn(req.subject);
  const notBefore = req.notBefore ?? new Date(Date.now() - 60_000);
  const notAfter = req.notAfter ?? new Date(notBefore.getTime() + 365 * 24 * 3600 * 1000);
  cert.notBefore.value = notBefore;
  cert.notAfter.value = notAfter;
  const { key: pub } = await toWebKey(req.publicKey, 'verify');
  await cert.subjectPublicKeyInfo.importKey(pub);

  const exts: pkijs.Extension[] = [];
  if (req.ca || !req.omitBasicConstraints) {
    const bc = new pkijs.BasicConstraints({
      cA: Boolean(req.ca),
      ...(req.ca && req.pathLength !== undefined ? { pathLenConstraint: req.pathLength } : {}),
    });
    exts.push(
      new pkijs.Extension({
        extnID: OID.basicConstraints,
        critical: true,
        extnValue: bc.toSchema().toBER(false),
        parsedValue: bc,
      })
    );
  }
  const usages = req.keyUsage ?? (req.ca ? ['keyCertSign', 'cRLSign'] : ['digitalSignature']);
  let b0 = 0;
  for (const u of usages) b0 |= KU_BITS[u] ?? 0;
  const ku = new asn1js.BitString({ valueHex: new Uint8Array([b0]).buffer, unusedBits: 0 });
  exts.push(
    new pkijs.Extension({ extnID: OID.keyUsage, critical: req.keyUsageCritical ?? true, extnValue: ku.toBER(false) })
  );
  const eku = req.extendedKeyUsage ?? (req.ca ? 'none' : 'codeSigning');
  if (eku !== 'none') {
    const purposes = eku === 'codeSigning' ? [OID.codeSigning] : eku === 'timeStamping' ? [OID.timeStamping] : eku;
    const v = new pkijs.ExtKeyUsage({ keyPurposes: purposes });
    exts.push(
      new pkijs.Extension({
        extnID: OID.extKeyUsage,
        critical: eku === 'timeStamping',
        extnValue: v.toSchema().toBER(false),
      })
    );
  }
  exts.push(...(req.extraExtensions ?? []));
  cert.extensions = exts;

  const signer = req.issuer?.privateKey ?? req.signingKey;
  if (!signer) throw new SignetError('USAGE', 'a self-signed certificate needs the subject private key (signingKey)');
  const { key, hash } = await toWebKey(signer, 'sign');
  await cert.sign(key, hash);
  return new X509Certificate(Buffer.from(cert.toSchema(true).toBER(false)));
}
