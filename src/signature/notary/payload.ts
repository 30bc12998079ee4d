import { isValidDigest, isValidMediaType, parseDescriptor, type Descriptor } from '../../oci/index.ts';
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
    // The bytes are read in place (a Buffer, or a view of the same memory), not copied first.
    const buf = Buffer.isBuffer(payload)
      ? payload
      : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
    j = JSON.parse(buf.toString('utf8'));
  } catch (err) {
    throw new SignetError('ENVELOPE_MALFORMED', `signature payload is not JSON: ${(err as Error).message}`);
  }
  const t = (j as { targetArtifact?: unknown })?.targetArtifact;
  if (!t || typeof t !== 'object')
    throw new SignetError('ENVELOPE_MALFORMED', 'signature payload has no targetArtifact');
  const plain = plainDescriptor(t as Record<string, unknown>);
  if (plain) return plain;
  try {
    return parseDescriptor(t, 'targetArtifact', { artifact: true });
  } catch (err) {
    throw new SignetError('ENVELOPE_MALFORMED', `signature payload: ${(err as Error).message}`);
  }
}

const PLAIN_KEYS = new Set(['mediaType', 'digest', 'size', 'annotations']);

/**
 * The descriptor notation signs (mediaType, digest, size, string annotations), checked by hand:
 * what the schema would return for it, field for field and in the schema's key order, without
 * its cost on every envelope. Anything else (another field, a sha384 digest, a value the schema
 * refuses) is null, and the schema decides (and names what is wrong).
 */
function plainDescriptor(t: Record<string, unknown>): Descriptor | null {
  if (Array.isArray(t)) return null;
  for (const k in t) if (!PLAIN_KEYS.has(k) || !Object.hasOwn(t, k)) return null;
  const { mediaType, digest, size, annotations } = t;
  if (!isValidMediaType(mediaType) || !isValidDigest(digest)) return null;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) return null;
  const d: Descriptor = { mediaType, digest, size };
  if (annotations === undefined) return 'annotations' in t ? null : d;
  if (!annotations || typeof annotations !== 'object' || Array.isArray(annotations)) return null;
  if (Object.getPrototypeOf(annotations) !== Object.prototype) return null;
  const copy: Record<string, string> = {};
  for (const [k, v] of Object.entries(annotations)) {
    if (typeof v !== 'string' || k === '__proto__') return null;
    copy[k] = v;
  }
  d.annotations = copy;
  return d;
}
