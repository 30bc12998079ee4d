import type { KeyObject, X509Certificate } from 'node:crypto';
import {
  algorithmInfo,
  chainValidAt,
  signatureAlgorithmFor,
  signPrimitive,
  validateCodeSigningChain,
  type AlgorithmInfo,
} from '../../pki/index.ts';
import { SIGNET_VERSION, SignetError } from '../../util/index.ts';
import { parseCose, signCose, verifyCoseSignature } from './cose.ts';
import { checkHeaders, truncateToSeconds } from './headers.ts';
import { parseJws, signJws, verifyJwsSignature, type JwsParts } from './jws.ts';
import { buildPayload, parseTargetArtifact } from './payload.ts';
import type { RawEnvelope, RawSignRequest } from './raw.ts';
import {
  COSE_MEDIA_TYPE,
  JWS_MEDIA_TYPE,
  type EnvelopeContent,
  type EnvelopeMediaType,
  type ExtendedAttribute,
  type PrimitiveSigner,
  type SignatureAlgorithm,
  type SignRequest,
} from './types.ts';

/** Envelopes larger than this are refused before parsing (DESIGN §5). */
export const MAX_ENVELOPE_SIZE = 1024 * 1024;
export const SIGNING_AGENT = `signet/${SIGNET_VERSION}`;

export interface ParseOptions {
  /** Critical extended attributes a verification plugin will process (not unknown then). */
  processedCriticalAttributes?: string[];
  /** Tolerate every critical attribute (to look inside before a verification plugin is loaded). */
  allowUnknownCritical?: boolean;
  maxSize?: number;
}

function parseRaw(
  bytes: Uint8Array,
  mediaType: string,
  maxSize: number
): RawEnvelope & { protectedBytes?: Uint8Array; jws?: JwsParts } {
  if (bytes.length > maxSize)
    throw new SignetError(
      'ENVELOPE_TOO_LARGE',
      `signature envelope is ${bytes.length} bytes, over the ${maxSize}-byte limit`
    );
  if (mediaType === JWS_MEDIA_TYPE) return parseJws(bytes);
  if (mediaType === COSE_MEDIA_TYPE) return parseCose(bytes);
  throw new SignetError(
    'ENVELOPE_UNSUPPORTED',
    `signature envelope format with media type ${JSON.stringify(mediaType)} is not supported`
  );
}

function toContent(
  raw: RawEnvelope,
  mediaType: EnvelopeMediaType,
  alg: AlgorithmInfo,
  scheme: EnvelopeContent['signerInfo']['signingScheme']
): EnvelopeContent {
  const h = raw.headers;
  const signerInfo: EnvelopeContent['signerInfo'] = {
    signingScheme: scheme,
    signatureAlgorithm: alg.algorithm,
    extendedAttributes: h.extended,
    certificateChain: raw.chain,
    signature: raw.signature,
  };
  if (h.signingTime) signerInfo.signingTime = h.signingTime;
  if (h.authenticSigningTime) signerInfo.authenticSigningTime = h.authenticSigningTime;
  if (h.expiry) signerInfo.expiry = h.expiry;
  if (raw.timestampSignature) signerInfo.timestampSignature = raw.timestampSignature;
  if (raw.signingAgent) signerInfo.signingAgent = raw.signingAgent;
  return {
    mediaType,
    payload: raw.payload,
    payloadContentType: String(h.contentType),
    targetArtifact: parseTargetArtifact(raw.payload),
    signerInfo,
  };
}

/**
 * Parses an envelope and checks its structure and header rules, without checking the signature
 * (for `signet inspect`). Use verifyEnvelopeIntegrity to trust anything in it.
 */
export function parseEnvelope(bytes: Uint8Array, mediaType: string, options: ParseOptions = {}): EnvelopeContent {
  const raw = parseRaw(bytes, mediaType, options.maxSize ?? MAX_ENVELOPE_SIZE);
  const alg = signatureAlgorithmFor(raw.chain[0]!);
  const scheme = checkHeaders(
    raw.headers,
    options.allowUnknownCritical ? 'all' : new Set(options.processedCriticalAttributes ?? [])
  );
  return toContent(raw, mediaType as EnvelopeMediaType, alg, scheme);
}

/**
 * The integrity step of verification (notary-spec §12.1): parse, derive the algorithm from the
 * leaf key, verify the signature, apply the header rules and the code-signing chain rules
 * (without validity times). Throws a SignetError of kind 'failed' naming what is wrong.
 */
export async function verifyEnvelopeIntegrity(
  bytes: Uint8Array,
  mediaType: string,
  options: ParseOptions = {}
): Promise<EnvelopeContent> {
  const raw = parseRaw(bytes, mediaType, options.maxSize ?? MAX_ENVELOPE_SIZE);
  const alg = signatureAlgorithmFor(raw.chain[0]!);
  if (raw.jws) verifyJwsSignature(raw as RawEnvelope & { jws: JwsParts }, alg);
  else verifyCoseSignature(raw as RawEnvelope & { protectedBytes: Uint8Array }, alg);
  const scheme = checkHeaders(
    raw.headers,
    options.allowUnknownCritical ? 'all' : new Set(options.processedCriticalAttributes ?? [])
  );
  validateCodeSigningChain(raw.chain);
  return toContent(raw, mediaType as EnvelopeMediaType, alg, scheme);
}

/** Signs with a private key held in this process. */
export class LocalKeySigner implements PrimitiveSigner {
  constructor(
    private readonly key: KeyObject,
    private readonly chain: X509Certificate[]
  ) {}
  async certificateChain(): Promise<X509Certificate[]> {
    return this.chain;
  }
  async sign(data: Uint8Array, algorithm: SignatureAlgorithm): Promise<Uint8Array> {
    return signPrimitive(algorithmInfo(algorithm), this.key, data);
  }
}

/** Builds and signs an envelope over an arbitrary payload (conformance tests, plugins). */
export async function signPayload(
  payload: Uint8Array,
  mediaType: EnvelopeMediaType,
  options: Omit<SignRequest, 'target'> & { extendedAttributes?: ExtendedAttribute[] }
): Promise<Uint8Array> {
  const chain = await options.signer.certificateChain();
  validateCodeSigningChain(chain);
  const algorithm = signatureAlgorithmFor(chain[0]!);
  const signingTime = truncateToSeconds(options.signingTime ?? new Date());
  const scheme = options.signingScheme ?? 'notary.x509';
  const valid = chainValidAt(chain, signingTime);
  if (!valid.ok) throw new SignetError('CERT_EXPIRED', `cannot sign: ${valid.message}`);
  const expiry = options.expiry ? truncateToSeconds(options.expiry) : undefined;
  if (expiry && expiry <= signingTime) throw new SignetError('USAGE', 'expiry must be after the signing time');
  for (const a of options.extendedAttributes ?? []) {
    if (
      a.key.startsWith('io.cncf.notary') &&
      a.key !== 'io.cncf.notary.verificationPlugin' &&
      a.key !== 'io.cncf.notary.verificationPluginMinVersion'
    )
      throw new SignetError('USAGE', `extended attribute ${a.key} uses the reserved io.cncf.notary prefix`);
  }
  const req: RawSignRequest = {
    payload,
    signer: options.signer,
    chain,
    algorithm,
    signingScheme: scheme,
    signingTime,
    extendedAttributes: options.extendedAttributes ?? [],
    signingAgent: options.signingAgent ?? SIGNING_AGENT,
  };
  if (expiry) req.expiry = expiry;
  if (options.timestamp) req.timestamp = options.timestamp;
  return mediaType === JWS_MEDIA_TYPE ? signJws(req) : signCose(req);
}

/** Signs a target descriptor: the payload with notation's exact byte layout for the format. */
export async function signEnvelope(request: SignRequest, mediaType: EnvelopeMediaType): Promise<Uint8Array> {
  for (const k of Object.keys(request.target.annotations ?? {})) {
    if (k.startsWith('io.cncf.notary'))
      throw new SignetError('USAGE', `user metadata key ${k} uses the reserved io.cncf.notary prefix`);
  }
  const payload = buildPayload(request.target, mediaType === JWS_MEDIA_TYPE ? 'jws' : 'cose');
  return signPayload(payload, mediaType, request);
}
