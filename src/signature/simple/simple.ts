import { SignetError } from '../../util/index.ts';

/** containers/image "atomic container signature" (simple signing) payloads. */
/** Simple signatures kept as OCI referrers, so they travel with `signet copy` (docs/formats.md). */
export const SIMPLE_SIGNATURE_ARTIFACT_TYPE = 'application/vnd.signet.containers.simple-signature.v1';
export const SIMPLE_SIGNATURE_MEDIA_TYPE = 'application/vnd.signet.containers.simple-signature.v1+pgp';
export const SIMPLE_SIGNING_TYPE = 'atomic container signature';
const MAX_SIGNATURE = 4 * 1024 * 1024;

export interface SimplePayload {
  type: string;
  dockerManifestDigest: string;
  dockerReference: string;
  optional: Record<string, unknown>;
}

function invalid(message: string): never {
  throw new SignetError('SIMPLE_SIGNATURE_INVALID', message);
}

/** A value in a message: a string as JSON (cut short), anything else by its type (it may nest too deep to print). */
function shown(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v.slice(0, 200)) : v === undefined ? 'missing' : `of type ${typeof v}`;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function parseSimplePayload(bytes: Uint8Array, expectedType = SIMPLE_SIGNING_TYPE): SimplePayload {
  let j: {
    critical?: {
      type?: unknown;
      image?: { 'docker-manifest-digest'?: unknown };
      identity?: { 'docker-reference'?: unknown };
    };
    optional?: unknown;
  };
  try {
    j = JSON.parse(Buffer.from(bytes).toString('utf8')) as typeof j;
  } catch {
    invalid('the signed payload is not JSON');
  }
  const c = j?.critical;
  if (!c || c.type !== expectedType) invalid(`the signed payload type is ${shown(c?.type)}, not "${expectedType}"`);
  const digest = c.image?.['docker-manifest-digest'];
  const ref = c.identity?.['docker-reference'];
  if (typeof digest !== 'string' || typeof ref !== 'string')
    invalid('the signed payload lacks docker-manifest-digest or docker-reference');
  if (j.optional !== undefined && j.optional !== null && !isPlainObject(j.optional))
    invalid('the signed payload field optional must be an object');
  return {
    type: expectedType,
    dockerManifestDigest: digest,
    dockerReference: ref,
    optional: (j.optional ?? {}) as Record<string, unknown>,
  };
}

/**
 * Verifies an OpenPGP signed message (what `gpg --sign` / skopeo write) with the given public
 * keys; returns the signed payload and the signing key's fingerprint. openpgp.js is loaded only
 * here (it is large, and LGPL: kept replaceable).
 */
export async function verifyOpenPgpMessage(
  signature: Uint8Array,
  keys: Uint8Array[]
): Promise<{ data: Uint8Array; fingerprint: string }> {
  if (signature.length > MAX_SIGNATURE) invalid(`the signature is over ${MAX_SIGNATURE} bytes`);
  const openpgp = await import('openpgp');
  const verificationKeys = [];
  for (const k of keys) {
    const text = Buffer.from(k).toString('latin1');
    try {
      verificationKeys.push(
        ...(text.includes('-----BEGIN PGP')
          ? await openpgp.readKeys({ armoredKeys: text })
          : await openpgp.readKeys({ binaryKeys: k }))
      );
    } catch (err) {
      throw new SignetError('KEY_INVALID', `not an OpenPGP public key: ${(err as Error).message}`);
    }
  }
  let message;
  try {
    const text = Buffer.from(signature).toString('latin1');
    message = text.includes('-----BEGIN PGP')
      ? await openpgp.readMessage({ armoredMessage: text })
      : await openpgp.readMessage({ binaryMessage: signature });
  } catch (err) {
    invalid(`the signature is not an OpenPGP message: ${(err as Error).message}`);
  }
  let result;
  try {
    result = await openpgp.verify({ message, verificationKeys, format: 'binary', expectSigned: true });
  } catch (err) {
    invalid(`the signature does not verify: ${(err as Error).message}`);
  }
  const sig = result.signatures[0];
  if (!sig) invalid('the message carries no signature');
  try {
    await sig.verified;
  } catch (err) {
    invalid(`the signature does not verify with the trusted keys: ${(err as Error).message}`);
  }
  const signer = verificationKeys.find((k) => k.getKeys(sig.keyID).length > 0);
  return {
    data: result.data as Uint8Array,
    fingerprint: signer ? signer.getFingerprint().toUpperCase() : sig.keyID.toHex().toUpperCase(),
  };
}
