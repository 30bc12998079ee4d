import { isValidDigest, isValidMediaType } from '../oci/index.ts';
import { isValidDate, SignetError } from '../util/index.ts';
import { loadTrustPolicy, selectPolicy, type TrustPolicyDocument } from './policy.ts';
import { TrustStore } from './truststore.ts';
import { verifySignature, type VerifyOptions } from './verifier.ts';

// Validated documents by content (bounded), so a caller passing the same policy each time pays once.
const policies = new Map<string, TrustPolicyDocument>();

// And by the object passed, with a JSON snapshot of it: a caller passing the same object each time
// (a webhook) skips serializing it, as long as it still holds exactly the snapshot's data (checked
// below on every call, so an object changed in place is validated again, as the content key would).
// A WeakMap: gone with the caller's objects.
const byObject = new WeakMap<object, { snapshot: unknown; doc: TrustPolicyDocument }>();

/**
 * Whether `value` is plain JSON data equal to `snapshot` (the JSON.parse of a JSON.stringify), so
 * that JSON.stringify(value) would be the snapshot's text: plain objects with the same keys in the
 * same order, arrays, strings, finite numbers, booleans and null. Anything else (a toJSON method, a
 * class instance, undefined, a function, a hole) answers false, and the caller serializes.
 */
function sameJson(value: unknown, snapshot: unknown): boolean {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number') return Number.isFinite(value) && value === snapshot;
    return (typeof value === 'string' || typeof value === 'boolean' || value === null) && value === snapshot;
  }
  if (snapshot === null || typeof snapshot !== 'object' || 'toJSON' in value) return false;
  if (Array.isArray(value)) {
    if (!Array.isArray(snapshot) || value.length !== snapshot.length) return false;
    for (let i = 0; i < value.length; i++) if (!sameJson(value[i], snapshot[i])) return false;
    return true;
  }
  const proto = Object.getPrototypeOf(value);
  if ((proto !== Object.prototype && proto !== null) || Array.isArray(snapshot)) return false;
  const keys = Object.keys(value);
  const want = Object.keys(snapshot);
  if (keys.length !== want.length) return false;
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    if (k !== want[i] || !sameJson((value as Record<string, unknown>)[k], (snapshot as Record<string, unknown>)[k]))
      return false;
  }
  return true;
}

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
  const seen = byObject.get(input.trustPolicy);
  let doc = seen && sameJson(input.trustPolicy, seen.snapshot) ? seen.doc : undefined;
  if (!doc) {
    const key = JSON.stringify(input.trustPolicy);
    doc = policies.get(key);
    if (!doc) {
      doc = loadTrustPolicy(input.trustPolicy);
      if (policies.size >= 64) policies.delete(policies.keys().next().value!);
      policies.set(key, doc);
    }
    // Only data that JSON round-trips is remembered by object (JSON.stringify of a function is undefined).
    if (typeof key === 'string') byObject.set(input.trustPolicy, { snapshot: JSON.parse(key) as unknown, doc });
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
