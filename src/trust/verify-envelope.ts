import { isValidDigest, isValidMediaType } from '../oci/index.ts';
import { isValidDate, SignetError } from '../util/index.ts';
import { loadTrustPolicy, selectPolicy, type TrustPolicyDocument } from './policy.ts';
import { TrustStore } from './truststore.ts';
import { verifySignature, type VerifyOptions } from './verifier.ts';

// Validated documents by content (bounded), so a caller passing the same policy each time pays once.
const policies = new Map<string, TrustPolicyDocument>();

export interface VerifyEnvelopeInput {
  envelope: Uint8Array;
  mediaType: string;
  subject: { mediaType: string; digest: string; size: number };
  /** `registry/repository@digest`: selects the trust policy statement. */
  reference: string;
  /** The parsed trust policy JSON document. */
  trustPolicy: object;
  /** A directory laid out as `truststore/x509/...` (or the `x509/` parent itself). */
  trustStore: string;
  userMetadata?: Record<string, string>;
  now?: Date;
}

export interface VerifyEnvelopeResult {
  verified: boolean;
  results: Array<{ type: string; action: 'enforce' | 'log' | 'skip'; ok: boolean; message?: string }>;
}

/**
 * Verifies one signature envelope against a subject descriptor, without any registry: what an
 * admission webhook or a conformance test needs. A policy-document error or unusable input
 * rejects with a coded SignetError; a signature that fails verification resolves with
 * `verified: false` and the failed check in `results`.
 *
 * @example
 * const { verified, results } = await verifyEnvelope({ envelope, mediaType: 'application/jose+json',
 *   subject, reference: 'registry.example.com/app@sha256:…', trustPolicy, trustStore: '/etc/signet/truststore' });
 */
export async function verifyEnvelope(
  input: VerifyEnvelopeInput,
  extra: Omit<VerifyOptions, 'userMetadata' | 'now'> = {}
): Promise<VerifyEnvelopeResult> {
  const bad = (message: string): never => {
    throw new SignetError('INPUT_INVALID', message);
  };
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    bad('verifyEnvelope takes an object { envelope, mediaType, subject, reference, trustPolicy, trustStore }');
  if (!(input.envelope instanceof Uint8Array)) bad('envelope must be a Uint8Array');
  if (typeof input.trustPolicy !== 'object' || input.trustPolicy === null)
    bad('trustPolicy must be the parsed trust policy document');
  if (typeof input.trustStore !== 'string') bad('trustStore must be the trust store directory');
  // An invalid Date compares false with everything: it would switch the expiry and validity checks off.
  if (input.now !== undefined && !isValidDate(input.now)) bad('now must be a valid Date');
  const s = input.subject;
  if (!s || !isValidMediaType(s.mediaType) || !isValidDigest(s.digest) || !Number.isSafeInteger(s.size) || s.size < 0) {
    throw new SignetError('INPUT_INVALID', 'subject must be a descriptor { mediaType, digest, size }');
  }
  if (typeof input.reference !== 'string' || !input.reference.includes('@'))
    throw new SignetError('INPUT_INVALID', 'reference must be registry/repository@digest');
  // The same parsed policy object is typically passed for every call (a webhook): validate it once.
  const key = JSON.stringify(input.trustPolicy);
  let doc = policies.get(key);
  if (!doc) {
    doc = loadTrustPolicy(input.trustPolicy);
    if (policies.size >= 64) policies.delete(policies.keys().next().value!);
    policies.set(key, doc);
  }
  let statement;
  try {
    statement = selectPolicy(doc, input.reference);
  } catch (err) {
    if (err instanceof SignetError && err.code === 'NO_APPLICABLE_POLICY')
      return { verified: false, results: [{ type: 'policy', action: 'enforce', ok: false, message: err.message }] };
    throw err;
  }
  const options: VerifyOptions = { ...extra };
  if (input.userMetadata) options.userMetadata = input.userMetadata;
  if (input.now) options.now = input.now;
  const outcome = await verifySignature({
    envelope: input.envelope,
    mediaType: input.mediaType,
    subject: s,
    statement,
    trustStore: new TrustStore(input.trustStore),
    options,
  });
  return { verified: outcome.verified, results: outcome.results };
}
