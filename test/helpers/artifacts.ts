import {
  EMPTY_JSON,
  MediaType,
  descriptorFor,
  encodeManifest,
  type Descriptor,
  type ImageManifest,
} from '../../src/oci/index.ts';
import type { Target } from '../../src/store/index.ts';

/** Pushes a small artifact (one layer of `content`), optionally as a referrer of `subject`. */
export async function pushArtifact(
  target: Target,
  content: string,
  opts: { artifactType?: string; subject?: Descriptor; tag?: string; annotations?: Record<string, string> } = {}
): Promise<Descriptor> {
  const layerBytes = Buffer.from(content);
  const layer = descriptorFor('application/octet-stream', layerBytes);
  await target.push(layer, layerBytes);
  await target.push(EMPTY_JSON, Buffer.from('{}'));
  const m: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaType.ImageManifest,
    artifactType: opts.artifactType ?? 'application/vnd.test.artifact',
    config: { ...EMPTY_JSON },
    layers: [layer],
    ...(opts.subject
      ? { subject: { mediaType: opts.subject.mediaType, digest: opts.subject.digest, size: opts.subject.size } }
      : {}),
    ...(opts.annotations ? { annotations: opts.annotations } : {}),
  };
  const bytes = encodeManifest(m);
  const desc = descriptorFor(MediaType.ImageManifest, bytes);
  await target.push(desc, bytes);
  if (opts.tag) await target.tag(desc, opts.tag);
  return desc;
}

/** The artifact of the acceptance tests: a root with two referrers, one of which has its own referrer. */
export async function pushGraph(
  target: Target,
  tag = 'v1'
): Promise<{ root: Descriptor; sig: Descriptor; sbom: Descriptor; sbomSig: Descriptor }> {
  const root = await pushArtifact(target, `root artifact ${tag}`, { tag, artifactType: 'application/vnd.test.app' });
  const sig = await pushArtifact(target, 'signature of root', {
    subject: root,
    artifactType: 'application/vnd.test.signature',
  });
  const sbom = await pushArtifact(target, '{"spdxVersion":"SPDX-2.3"}', {
    subject: root,
    artifactType: 'application/spdx+json',
    annotations: { 'org.example.kind': 'sbom' },
  });
  const sbomSig = await pushArtifact(target, 'signature of sbom', {
    subject: sbom,
    artifactType: 'application/vnd.test.signature',
  });
  return { root, sig, sbom, sbomSig };
}
