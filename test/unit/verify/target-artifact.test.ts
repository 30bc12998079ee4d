// parseTargetArtifact checks notation's plain descriptor by hand and leaves everything else to the
// schema: both ways must give the same answer (the same descriptor, or a refusal).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseDescriptor } from '../../../src/oci/index.ts';
import { parseTargetArtifact } from '../../../src/signature/notary/payload.ts';

const hex = (n: number) => fc.stringMatching(new RegExp(`^[0-9a-f]{${n}}$`));
const digest = fc.oneof(
  hex(64).map((h) => `sha256:${h}`),
  hex(128).map((h) => `sha512:${h}`),
  hex(96).map((h) => `sha384:${h}`),
  hex(64).map((h) => `sha256:${h.toUpperCase()}`),
  fc.string()
);
const mediaType = fc.oneof(
  fc.constant('application/vnd.oci.image.manifest.v1+json'),
  fc.constant('application/vnd.oci.image.index.v1+json'),
  fc.string()
);
const size = fc.oneof(fc.nat(), fc.integer(), fc.double(), fc.constant(Number.MAX_SAFE_INTEGER + 2), fc.string());
const annotations = fc.oneof(
  fc.dictionary(fc.string(), fc.string()),
  fc.dictionary(fc.string(), fc.oneof(fc.string(), fc.integer())),
  fc.constant(null),
  fc.array(fc.string())
);
const descriptor = fc.record(
  {
    mediaType,
    digest,
    size,
    annotations,
    urls: fc.array(fc.string()),
    artifactType: mediaType,
  },
  { requiredKeys: [] }
);

function viaSchema(t: unknown): unknown {
  try {
    return { ok: parseDescriptor(t, 'targetArtifact', { artifact: true }) };
  } catch {
    return { refused: true };
  }
}
function viaPayload(t: unknown): unknown {
  try {
    return { ok: parseTargetArtifact(Buffer.from(JSON.stringify({ targetArtifact: t }))) };
  } catch {
    return { refused: true };
  }
}

describe('parseTargetArtifact', () => {
  it('agrees with the descriptor schema, key order included', () => {
    fc.assert(
      fc.property(descriptor, (d) => {
        const t = JSON.parse(JSON.stringify(d)) as unknown;
        const a = viaSchema(t);
        const b = viaPayload(t);
        expect(b).toEqual(a);
        expect(JSON.stringify(b)).toBe(JSON.stringify(a));
      }),
      { numRuns: 2000 }
    );
  });
  it('takes the plain descriptor notation signs', () => {
    const d = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${'a'.repeat(64)}`, size: 7 };
    expect(parseTargetArtifact(Buffer.from(JSON.stringify({ targetArtifact: d })))).toEqual(d);
    const withAnnotations = { ...d, annotations: { b: '1', a: '2', __proto__: 'x' } };
    const json = JSON.stringify({ targetArtifact: withAnnotations }).replace('"a":"2"', '"a":"2","__proto__":"x"');
    expect(JSON.stringify(parseTargetArtifact(Buffer.from(json)))).toBe(
      JSON.stringify(parseDescriptor(JSON.parse(json).targetArtifact, 'x', { artifact: true }))
    );
  });
});
