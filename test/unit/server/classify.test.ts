import { describe, expect, it } from 'vitest';
import { EMPTY_JSON, MediaType, type ImageManifest } from '../../../src/oci/index.ts';
import { classifyManifest } from '../../../src/server/enforcement/classify.ts';

const d = (mediaType: string, n: number) => ({
  mediaType,
  digest: `sha256:${String(n).repeat(64).slice(0, 64)}`,
  size: n,
});
const subject = d(MediaType.ImageManifest, 9);
const image = (extra: Partial<ImageManifest> = {}): ImageManifest => ({
  schemaVersion: 2,
  mediaType: MediaType.ImageManifest,
  config: d(MediaType.ImageConfig, 1),
  layers: [d('application/vnd.oci.image.layer.v1.tar+gzip', 2)],
  ...extra,
});

describe('what enforcement exempts (signatures, SBOMs, attestations) and what it judges', () => {
  it('an image that merely carries a subject is enforced like any other', () => {
    expect(classifyManifest(image({ subject }), true).kind).toBe('enforced');
    expect(classifyManifest(image(), false).kind).toBe('enforced');
  });
  it('a referrer with a non-image config is exempt only while its subject is in the repository', () => {
    const sbom = image({ artifactType: 'application/spdx+json', config: EMPTY_JSON, subject });
    expect(classifyManifest(sbom, true).kind).toBe('referrer');
    expect(classifyManifest(sbom, false).kind).toBe('enforced');
  });
  it("cosign's tag-based signature manifests (signature layers only) are exempt; a Helm chart is not", () => {
    const sig = image({ layers: [d('application/vnd.dev.cosign.simplesigning.v1+json', 3)] });
    expect(classifyManifest(sig, false).kind).toBe('referrer');
    const chart = image({ layers: [d('application/vnd.cncf.helm.chart.content.v1.tar+gzip', 4)] });
    expect(classifyManifest(chart, false).kind).toBe('enforced');
    const mixed = image({
      layers: [
        d('application/vnd.dev.cosign.simplesigning.v1+json', 3),
        d('application/vnd.oci.image.layer.v1.tar', 5),
      ],
    });
    expect(classifyManifest(mixed, false).kind).toBe('enforced');
  });
  it('an index is judged by its children (the enforcer reads them)', () => {
    const idx = { schemaVersion: 2 as const, mediaType: MediaType.ImageIndex, manifests: [subject] };
    expect(classifyManifest(idx, false)).toEqual({ kind: 'index', children: [subject.digest] });
  });
});
