import type { X509Certificate } from 'node:crypto';
import type { Descriptor } from '../../oci/index.ts';

/**
 * The format-neutral view of a Notary Project signature envelope (JWS or COSE). Verifier code
 * works on this and never on the wire format (notary-spec.md §3).
 */
export const JWS_MEDIA_TYPE = 'application/jose+json';
export const COSE_MEDIA_TYPE = 'application/cose';
export const PAYLOAD_CONTENT_TYPE = 'application/vnd.cncf.notary.payload.v1+json';
export const SIGNATURE_ARTIFACT_TYPE = 'application/vnd.cncf.notary.signature';
export const THUMBPRINT_ANNOTATION = 'io.cncf.notary.x509chain.thumbprint#S256';

export type EnvelopeMediaType = typeof JWS_MEDIA_TYPE | typeof COSE_MEDIA_TYPE;
export type SigningScheme = 'notary.x509' | 'notary.x509.signingAuthority';
export type { SignatureAlgorithm } from '../../pki/index.ts';
import type { SignatureAlgorithm } from '../../pki/index.ts';

export interface ExtendedAttribute {
  key: string;
  value: unknown;
  critical: boolean;
}

export interface SignerInfo {
  signingScheme: SigningScheme;
  /** `io.cncf.notary.signingTime` (notary.x509). */
  signingTime?: Date;
  /** `io.cncf.notary.authenticSigningTime` (signingAuthority). */
  authenticSigningTime?: Date;
  expiry?: Date;
  signatureAlgorithm: SignatureAlgorithm;
  /** Protected attributes that are not one of the recognised ones. */
  extendedAttributes: ExtendedAttribute[];
  /** Leaf first, root last. */
  certificateChain: X509Certificate[];
  /** The primitive signature bytes (what an RFC 3161 timestamp is over). */
  signature: Uint8Array;
  /** DER TimeStampToken from the unsigned attributes, when present. */
  timestampSignature?: Uint8Array;
  signingAgent?: string;
}

export interface EnvelopeContent {
  mediaType: EnvelopeMediaType;
  /** Payload bytes exactly as received (never re-serialised). */
  payload: Uint8Array;
  payloadContentType: string;
  /** The parsed `targetArtifact` descriptor of the payload. */
  targetArtifact: Descriptor;
  signerInfo: SignerInfo;
}

/** Something that produces a primitive signature: a local key, or a plugin / HSM. */
export interface PrimitiveSigner {
  /** Leaf first, root last. */
  certificateChain(): Promise<X509Certificate[]>;
  /** Signs `data` (the JWS signing input or the COSE Sig_structure) with the algorithm implied by the leaf key. */
  sign(data: Uint8Array, algorithm: SignatureAlgorithm): Promise<Uint8Array>;
}

/** What a whole-envelope signer returns: the envelope, the annotations of its manifest, the chain. */
export interface GeneratedEnvelope {
  envelope: Uint8Array;
  annotations: Record<string, string>;
  chain: X509Certificate[];
  signingTime: Date;
}

/** A signer that returns whole envelopes (a plugin with SIGNATURE_GENERATOR.ENVELOPE). */
export interface EnvelopeGenerator {
  generateEnvelope(
    target: Descriptor,
    mediaType: EnvelopeMediaType,
    expirySeconds?: number
  ): Promise<GeneratedEnvelope>;
}

export interface SignRequest {
  /** The artifact being signed; sanitised to {mediaType, digest, size, annotations} in the payload. */
  target: Descriptor;
  signer: PrimitiveSigner;
  signingScheme?: SigningScheme;
  /** Truncated to whole seconds. Defaults to now. */
  signingTime?: Date;
  expiry?: Date;
  extendedAttributes?: ExtendedAttribute[];
  signingAgent?: string;
  /** Asks a TSA for a token over the primitive signature (the PKI issue fills it). */
  timestamp?: (signature: Uint8Array, hash: 'SHA-256' | 'SHA-384' | 'SHA-512') => Promise<Uint8Array>;
}
