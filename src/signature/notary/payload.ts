import { parseDescriptor, type Descriptor } from '../../oci/index.ts';
import { SignetError } from '../../util/index.ts';

/**
 * JSON the way Go's encoding/json writes it (what notation signs): no spaces, and '<', '>', '&'
 * (and U+2028/2029) escaped. Objects keep the key order given. The reference's payload bytes
 * must be reproduced exactly, so this one serializer is ours (notary-spec §2).
 */
export function goJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value as object)
        .sort()
        .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])])
    );
  }
  return value;
}

/** The signed payload `{"targetArtifact": …}` with the byte layout notation uses for each format. */
export function buildPayload(target: Descriptor, format: 'jws' | 'cose'): Uint8Array {
  // notation sanitises the descriptor to these four fields
  const d: Record<string, unknown> = { mediaType: target.mediaType, digest: target.digest, size: target.size };
  if (target.annotations && Object.keys(target.annotations).length) {
    d.annotations = Object.fromEntries(
      Object.keys(target.annotations)
        .sort()
        .map((k) => [k, target.annotations![k]])
    );
  }
  const doc = { targetArtifact: d };
  // COSE: struct field order; JWS: re-marshalled through a map, so every key sorted.
  return Buffer.from(goJson(format === 'jws' ? sortKeys(doc) : doc), 'utf8');
}

/** Parses the payload bytes (never re-serialised) into the target descriptor. */
export function parseTargetArtifact(payload: Uint8Array): Descriptor {
  let j: unknown;
  try {
    j = JSON.parse(Buffer.from(payload).toString('utf8'));
  } catch (err) {
    throw new SignetError('ENVELOPE_MALFORMED', `signature payload is not JSON: ${(err as Error).message}`);
  }
  const t = (j as { targetArtifact?: unknown })?.targetArtifact;
  if (!t || typeof t !== 'object')
    throw new SignetError('ENVELOPE_MALFORMED', 'signature payload has no targetArtifact');
  try {
    return parseDescriptor(t, 'targetArtifact', { artifact: true });
  } catch (err) {
    throw new SignetError('ENVELOPE_MALFORMED', `signature payload: ${(err as Error).message}`);
  }
}
