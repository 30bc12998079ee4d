import { createHash, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { Key, Signature } from '@tufjs/models';
import { ecdsaP1363ToDer } from '../../pki/index.ts';
import { SignetError } from '../../util/index.ts';

/**
 * Signet key-store keys as TUF keys. Signet keeps X.509 signing keys (ECDSA, RSA) for Notary;
 * TUF names a key by `keytype`/`scheme` and its public value, and `@tufjs/models` verifies with
 * `crypto.verify(undefined, canonical, key, hexSig)`. So this adapter maps a key to the one TUF
 * form the models verify byte for byte: ECDSA P-256 → `ecdsa` / `ecdsa-sha2-nistp256` with the
 * SPKI PEM as `public` (DER signatures, Node's default), Ed25519 → `ed25519` / `ed25519` with the
 * raw 32-byte key in hex. Other curves and RSA (PKCS#1 v1.5: not a TUF scheme) are refused
 * rather than mislabelled. The keyid is the hex SHA-256 of the key's canonical JSON (TUF spec,
 * "KEYID"), computed here because the key holds only strings (see canonicalStrings).
 */
export interface TufSigningKey {
  key: Key;
  /** Signs canonical bytes (a plugin key answers asynchronously: signWith in writer.ts awaits it). */
  sign(bytes: Buffer): Signature | Promise<Signature>;
}

/** OLPC canonical JSON of an object whose leaves are strings: sorted keys, only `\` and `"` escaped. */
export function canonicalStrings(v: unknown): string {
  if (typeof v === 'string') return `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .map((k) => `${canonicalStrings(k)}:${canonicalStrings(o[k])}`)
      .join(',')}}`;
  }
  throw new TypeError('canonicalStrings: only objects of strings');
}

/** The TUF form of a public key (P-256 or Ed25519). */
export function tufKey(publicKey: KeyObject, what = 'the key'): Key {
  let keyType: string;
  let scheme: string;
  let pub: string;
  if (publicKey.asymmetricKeyType === 'ec' && publicKey.asymmetricKeyDetails?.namedCurve === 'prime256v1') {
    keyType = 'ecdsa';
    scheme = 'ecdsa-sha2-nistp256';
    pub = publicKey.export({ type: 'spki', format: 'pem' }) as string;
  } else if (publicKey.asymmetricKeyType === 'ed25519') {
    keyType = 'ed25519';
    scheme = 'ed25519';
    pub = (publicKey.export({ type: 'spki', format: 'der' }) as Buffer).subarray(-32).toString('hex');
  } else {
    const t =
      publicKey.asymmetricKeyType === 'ec' ? publicKey.asymmetricKeyDetails?.namedCurve : publicKey.asymmetricKeyType;
    throw new SignetError('KEY_UNSUPPORTED', `${what} is ${t}: a TUF key must be ECDSA P-256 or Ed25519`);
  }
  const keyVal = { public: pub };
  const keyID = createHash('sha256')
    .update(canonicalStrings({ keytype: keyType, keyval: keyVal, scheme }))
    .digest('hex');
  return new Key({ keyID, keyType, scheme, keyVal });
}

/** A signer over a private key (ECDSA with SHA-256 in DER, or Ed25519). */
export function tufSigner(privateKey: KeyObject, publicKey: KeyObject, what?: string): TufSigningKey {
  const key = tufKey(publicKey, what);
  const alg = key.keyType === 'ecdsa' ? 'sha256' : null;
  return {
    key,
    sign: (bytes) => new Signature({ keyID: key.keyID, sig: cryptoSign(alg, bytes, privateKey).toString('hex') }),
  };
}

/**
 * A key held by a Notary plugin (an HSM, a KMS) as a TUF key: its public key is the leaf of the
 * chain the plugin returns (P-256 only: the TUF scheme), each signature one `generate-signature`
 * call over the canonical bytes, checked by the plugin client against that leaf before use.
 */
export function pluginTufSigner(
  publicKey: KeyObject,
  sign: (bytes: Buffer) => Promise<Uint8Array>,
  what: string
): TufSigningKey {
  const key = tufKey(publicKey, what);
  if (key.keyType !== 'ecdsa')
    throw new SignetError('KEY_UNSUPPORTED', `${what}: a plugin TUF key must be ECDSA P-256`);
  return {
    key,
    sign: async (bytes) => new Signature({ keyID: key.keyID, sig: ecdsaP1363ToDer(await sign(bytes)).toString('hex') }),
  };
}
