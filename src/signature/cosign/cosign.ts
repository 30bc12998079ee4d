import { createPublicKey, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { descriptorFor, MediaType, parseDigest, type Descriptor, type ImageManifest } from '../../oci/index.ts';
import { SignetError } from '../../util/index.ts';

/** cosign's key-based signatures (sigstore/cosign specs: SIGNATURE_SPEC.md). */
export const COSIGN_PAYLOAD_MEDIA_TYPE = 'application/vnd.dev.cosign.simplesigning.v1+json';
export const COSIGN_SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature';
/** Artifact (config media) type of cosign signatures stored as OCI 1.1 referrers. */
export const COSIGN_REFERRER_ARTIFACT_TYPE = 'application/vnd.dev.cosign.artifact.sig.v1+json';
export const COSIGN_PAYLOAD_TYPE = 'cosign container image signature';
const MAX_PAYLOAD = 1024 * 1024;

/** The tag a cosign signature manifest lives under: `sha256-<hex>.sig`. */
export function cosignSignatureTag(digest: string): string {
  const { algorithm, hex } = parseDigest(digest);
  return `${algorithm}-${hex}.sig`;
}

function escapeGo(s: string): string {
  return JSON.stringify(s).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026');
}

/**
 * The simple-signing payload exactly as cosign writes it (Go struct order:
 * critical.identity, critical.image, critical.type, then optional).
 */
export function buildCosignPayload(
  dockerReference: string,
  digest: string,
  optional?: Record<string, string>
): Uint8Array {
  const opt =
    optional && Object.keys(optional).length
      ? `{${Object.keys(optional)
          .sort()
          .map((k) => `${escapeGo(k)}:${escapeGo(optional[k]!)}`)
          .join(',')}}`
      : 'null';
  return Buffer.from(
    `{"critical":{"identity":{"docker-reference":${escapeGo(dockerReference)}},"image":{"docker-manifest-digest":${escapeGo(digest)}},"type":${escapeGo(COSIGN_PAYLOAD_TYPE)}},"optional":${opt}}`
  );
}

export interface CosignPayload {
  dockerReference: string;
  digest: string;
  optional: Record<string, unknown> | null;
}

export function parseCosignPayload(bytes: Uint8Array): CosignPayload {
  if (bytes.length > MAX_PAYLOAD)
    throw new SignetError('COSIGN_INVALID', `cosign payload is over ${MAX_PAYLOAD} bytes`);
  let j: {
    critical?: {
      identity?: { 'docker-reference'?: unknown };
      image?: { 'docker-manifest-digest'?: unknown };
      type?: unknown;
    };
    optional?: unknown;
  };
  try {
    j = JSON.parse(Buffer.from(bytes).toString('utf8')) as typeof j;
  } catch (err) {
    throw new SignetError('COSIGN_INVALID', `cosign payload is not JSON: ${(err as Error).message}`);
  }
  const c = j?.critical;
  if (!c || c.type !== COSIGN_PAYLOAD_TYPE)
    throw new SignetError(
      'COSIGN_INVALID',
      `cosign payload type is ${typeof c?.type === 'string' ? JSON.stringify(c.type.slice(0, 200)) : `of type ${typeof c?.type}`}, not "${COSIGN_PAYLOAD_TYPE}"`
    );
  const digest = c.image?.['docker-manifest-digest'];
  const ref = c.identity?.['docker-reference'];
  if (typeof digest !== 'string' || typeof ref !== 'string')
    throw new SignetError(
      'COSIGN_INVALID',
      'cosign payload lacks critical.image.docker-manifest-digest or critical.identity.docker-reference'
    );
  const optional = j.optional ?? null;
  if (optional !== null && (typeof optional !== 'object' || Array.isArray(optional)))
    throw new SignetError('COSIGN_INVALID', 'cosign payload field optional must be an object or null');
  return { dockerReference: ref, digest, optional: optional as Record<string, unknown> | null };
}

/** Signs as cosign does: ECDSA (DER) or RSA PKCS#1 v1.5 over SHA-256 of the payload, or Ed25519. */
export function cosignSign(payload: Uint8Array, key: KeyObject): string {
  const hash =
    key.asymmetricKeyType === 'ed25519'
      ? null
      : key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'secp384r1'
        ? 'sha384'
        : 'sha256';
  return cryptoSign(hash, payload, key).toString('base64');
}

export function cosignVerify(payload: Uint8Array, signatureB64: string, publicKey: KeyObject): boolean {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(signatureB64))
    throw new SignetError('COSIGN_INVALID', 'cosign signature annotation is not base64');
  const hash =
    publicKey.asymmetricKeyType === 'ed25519'
      ? null
      : publicKey.asymmetricKeyType === 'ec' && publicKey.asymmetricKeyDetails?.namedCurve === 'secp384r1'
        ? 'sha384'
        : 'sha256';
  try {
    return cryptoVerify(hash, payload, publicKey, Buffer.from(signatureB64, 'base64'));
  } catch {
    return false;
  }
}

/** A PEM (PKIX) public key, as `cosign generate-key-pair` writes cosign.pub. */
export function parseCosignPublicKey(pem: string | Uint8Array): KeyObject {
  try {
    return createPublicKey(typeof pem === 'string' ? pem : Buffer.from(pem));
  } catch (err) {
    throw new SignetError('KEY_INVALID', `not a PEM public key: ${(err as Error).message}`);
  }
}

/** The signature manifest with one more signature layer (cosign's "image" of signatures). */
export function appendCosignLayer(
  existing: ImageManifest | undefined,
  layer: Descriptor
): { manifest: ImageManifest; config: Uint8Array } {
  const layers = [
    ...(existing?.layers ?? []).filter(
      (l) =>
        !(
          l.digest === layer.digest &&
          l.annotations?.[COSIGN_SIGNATURE_ANNOTATION] === layer.annotations?.[COSIGN_SIGNATURE_ANNOTATION]
        )
    ),
    layer,
  ];
  const config = Buffer.from(
    JSON.stringify({
      architecture: '',
      created: '0001-01-01T00:00:00Z',
      history: layers.map(() => ({ created: '0001-01-01T00:00:00Z' })),
      os: '',
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
      config: {},
    })
  );
  const cfg = descriptorFor(MediaType.ImageConfig, config);
  return {
    manifest: {
      schemaVersion: 2,
      mediaType: MediaType.ImageManifest,
      config: { mediaType: cfg.mediaType, size: cfg.size, digest: cfg.digest },
      layers,
    },
    config,
  };
}
