import { constants, sign as cryptoSign, verify as cryptoVerify, X509Certificate, type KeyObject } from 'node:crypto';
import * as asn1js from 'asn1js';
import { SignetError } from '../util/index.ts';

/** Notary Project signature algorithms (notary-spec §4). */
export type SignatureAlgorithm =
  | 'RSASSA-PSS-SHA-256'
  | 'RSASSA-PSS-SHA-384'
  | 'RSASSA-PSS-SHA-512'
  | 'ECDSA-SHA-256'
  | 'ECDSA-SHA-384'
  | 'ECDSA-SHA-512';

export type HashName = 'SHA-256' | 'SHA-384' | 'SHA-512';

export interface AlgorithmInfo {
  algorithm: SignatureAlgorithm;
  hash: HashName;
  /** node:crypto hash name */
  nodeHash: 'sha256' | 'sha384' | 'sha512';
  jws: 'PS256' | 'PS384' | 'PS512' | 'ES256' | 'ES384' | 'ES512';
  cose: number;
  keySpec: 'RSA-2048' | 'RSA-3072' | 'RSA-4096' | 'EC-256' | 'EC-384' | 'EC-521';
  /** ECDSA: byte length of r and of s in the raw r‖s encoding. */
  ecSize?: number;
}

const TABLE: AlgorithmInfo[] = [
  {
    algorithm: 'RSASSA-PSS-SHA-256',
    hash: 'SHA-256',
    nodeHash: 'sha256',
    jws: 'PS256',
    cose: -37,
    keySpec: 'RSA-2048',
  },
  {
    algorithm: 'RSASSA-PSS-SHA-384',
    hash: 'SHA-384',
    nodeHash: 'sha384',
    jws: 'PS384',
    cose: -38,
    keySpec: 'RSA-3072',
  },
  {
    algorithm: 'RSASSA-PSS-SHA-512',
    hash: 'SHA-512',
    nodeHash: 'sha512',
    jws: 'PS512',
    cose: -39,
    keySpec: 'RSA-4096',
  },
  {
    algorithm: 'ECDSA-SHA-256',
    hash: 'SHA-256',
    nodeHash: 'sha256',
    jws: 'ES256',
    cose: -7,
    keySpec: 'EC-256',
    ecSize: 32,
  },
  {
    algorithm: 'ECDSA-SHA-384',
    hash: 'SHA-384',
    nodeHash: 'sha384',
    jws: 'ES384',
    cose: -35,
    keySpec: 'EC-384',
    ecSize: 48,
  },
  {
    algorithm: 'ECDSA-SHA-512',
    hash: 'SHA-512',
    nodeHash: 'sha512',
    jws: 'ES512',
    cose: -36,
    keySpec: 'EC-521',
    ecSize: 66,
  },
];

export function algorithmInfo(alg: SignatureAlgorithm): AlgorithmInfo {
  return TABLE.find((t) => t.algorithm === alg)!;
}

export function algorithmByJws(alg: unknown): AlgorithmInfo | undefined {
  return TABLE.find((t) => t.jws === alg);
}

export function algorithmByCose(alg: unknown): AlgorithmInfo | undefined {
  return TABLE.find((t) => t.cose === alg);
}

export function algorithmByKeySpec(spec: unknown): AlgorithmInfo | undefined {
  return TABLE.find((t) => t.keySpec === spec);
}

/**
 * The one algorithm a key may sign with: decided by the key's type and exact size, never by a
 * header (that would let an attacker pick the algorithm). Anything else is unsupported.
 */
export function signatureAlgorithmFor(key: KeyObject | X509Certificate): AlgorithmInfo {
  if (!(key instanceof X509Certificate)) return algorithmForKey(key);
  let info = byCertificate.get(key);
  if (!info) {
    info = algorithmForKey(key);
    byCertificate.set(key, info);
  }
  return info;
}

// The algorithm of a certificate's key, per certificate object: it depends on the key alone (an
// X509Certificate is immutable), and every signature of one signer comes with the same object
// (certificateFromDer shares them). A WeakMap: gone with the certificates. Failures are not kept.
const byCertificate = new WeakMap<X509Certificate, AlgorithmInfo>();

function algorithmForKey(key: KeyObject | X509Certificate): AlgorithmInfo {
  let pub: KeyObject;
  try {
    pub = key instanceof X509Certificate ? key.publicKey : key;
  } catch (err) {
    // A certificate that parses, but whose SubjectPublicKeyInfo OpenSSL cannot decode.
    throw new SignetError('CERT_INVALID', `the certificate's public key cannot be read: ${(err as Error).message}`);
  }
  const details = pub.asymmetricKeyDetails ?? {};
  if (pub.asymmetricKeyType === 'rsa') {
    const spec = `RSA-${details.modulusLength}`;
    const info = algorithmByKeySpec(spec);
    if (info) return info;
    throw new SignetError(
      'ALGORITHM_UNSUPPORTED',
      `RSA keys of ${details.modulusLength} bits are not allowed (2048, 3072 or 4096)`
    );
  }
  if (pub.asymmetricKeyType === 'ec') {
    const curve = details.namedCurve;
    const spec =
      curve === 'prime256v1' || curve === 'P-256'
        ? 'EC-256'
        : curve === 'secp384r1' || curve === 'P-384'
          ? 'EC-384'
          : curve === 'secp521r1' || curve === 'P-521'
            ? 'EC-521'
            : undefined;
    const info = spec ? algorithmByKeySpec(spec) : undefined;
    if (info) return info;
    throw new SignetError('ALGORITHM_UNSUPPORTED', `EC curve ${curve} is not allowed (P-256, P-384 or P-521)`);
  }
  throw new SignetError('ALGORITHM_UNSUPPORTED', `${pub.asymmetricKeyType} keys are not allowed (RSA or ECDSA only)`);
}

/**
 * The primitive signature of the Notary Project algorithms: ECDSA as raw r‖s (JWS and COSE), and
 * RSASSA-PSS with MGF1 of the same hash and a salt as long as the hash.
 */
export function signPrimitive(info: AlgorithmInfo, key: KeyObject, data: Uint8Array): Uint8Array {
  return info.ecSize
    ? cryptoSign(info.nodeHash, data, { key, dsaEncoding: 'ieee-p1363' })
    : cryptoSign(info.nodeHash, data, {
        key,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: Number(info.hash.slice(4)) / 8,
      });
}

export function verifyPrimitive(info: AlgorithmInfo, key: KeyObject, data: Uint8Array, signature: Uint8Array): boolean {
  return info.ecSize
    ? cryptoVerify(info.nodeHash, data, { key, dsaEncoding: 'ieee-p1363' }, signature)
    : cryptoVerify(
        info.nodeHash,
        data,
        { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: Number(info.hash.slice(4)) / 8 },
        signature
      );
}

/**
 * An ECDSA signature as r||s (IEEE P1363: what the Notary plugin protocol returns) in the DER form
 * TUF's `ecdsa-sha2-nistp256` scheme and Sigstore bundles carry, encoded with asn1js.
 */
export function ecdsaP1363ToDer(sig: Uint8Array): Buffer {
  if (!sig.length || sig.length % 2)
    throw new SignetError('SIGNATURE_INVALID', `an ECDSA r||s signature of ${sig.length} bytes`);
  const half = sig.length / 2;
  const int = (b: Uint8Array) => asn1js.Integer.fromBigInt(BigInt(`0x${Buffer.from(b).toString('hex')}`));
  return Buffer.from(new asn1js.Sequence({ value: [int(sig.subarray(0, half)), int(sig.subarray(half))] }).toBER());
}
