import type { X509Certificate } from 'node:crypto';
import type { AlgorithmInfo, HashName } from '../../pki/index.ts';
import type { DecodedHeaders } from './headers.ts';
import type { ExtendedAttribute, PrimitiveSigner, SigningScheme } from './types.ts';

/** What a format parser hands to the shared envelope checks. */
export interface RawEnvelope {
  payload: Uint8Array;
  signature: Uint8Array;
  chain: X509Certificate[];
  headers: DecodedHeaders;
  /** The alg as the header states it (JWS string or COSE integer). */
  algorithmHeader: unknown;
  timestampSignature?: Uint8Array;
  signingAgent?: string;
}

/** What a format writer needs. */
export interface RawSignRequest {
  payload: Uint8Array;
  signer: PrimitiveSigner;
  chain: X509Certificate[];
  algorithm: AlgorithmInfo;
  signingScheme: SigningScheme;
  signingTime: Date;
  expiry?: Date;
  extendedAttributes: ExtendedAttribute[];
  signingAgent?: string;
  timestamp?: (signature: Uint8Array, hash: HashName) => Promise<Uint8Array>;
}
