import { describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { copyGraph } from '../../../src/copy/index.ts';
import {
  EMPTY_JSON,
  MediaType,
  descriptorFor,
  encodeManifest,
  isManifestMediaType,
  type Descriptor,
} from '../../../src/oci/index.ts';
import { MemoryTarget } from '../../../src/store/index.ts';
import { pushArtifact, pushGraph } from '../../helpers/artifacts.ts';

/** Records the order of pushes, and checks no manifest arrives before what it references. */
class RecordingTarget extends MemoryTarget {
  readonly order: string[] = [];
  override async push(desc: Descriptor, content: Readable | Uint8Array): Promise<void> {
    if (isManifestMediaType(desc.mediaType)) {
      const { parseManifest, successors } = await import('../../../src/oci/index.ts');
      const bytes = content instanceof Uint8Array ? content : Buffer.concat(await content.toArray());
      const m = parseManifest(bytes, desc.mediaType);
      for (const child of successors(m))
        if (!(await this.exists(child))) throw new Error(`manifest ${desc.digest} pushed before ${child.digest}`);
      if (m.subject && !(await this.exists(m.subject)))
        throw new Error(`referrer ${desc.digest} pushed before its subject`);
      this.order.push(desc.digest);
      return super.push(desc, bytes);
    }
    this.order.push(desc.digest);
    return super.push(desc, content);
  }
}

/** A source that serves different bytes for one digest. */
class LyingTarget extends MemoryTarget {
  constructor(private readonly victim: string) {
    super('liar');
  }
  override async fetch(desc: Descriptor): Promise<Readable> {
    if (desc.digest === this.victim) {
      const { VerifyingStream } = await import('../../../src/oci/index.ts');
      return Readable.from([Buffer.alloc(desc.size, 0x41)]).pipe(new VerifyingStream(desc));
    }
    return super.fetch(desc);
  }
}

async function multiArch(t: MemoryTarget): Promise<{ index: Descriptor; platforms: Descriptor[] }> {
  const platforms: Descriptor[] = [];
  for (const arch of ['amd64', 'arm64']) platforms.push(await pushArtifact(t, `binary for ${arch}`));
  const idx = {
    schemaVersion: 2,
    mediaType: MediaType.ImageIndex,
    manifests: platforms.map((p, i) => ({ ...p, platform: { os: 'linux', architecture: ['amd64', 'arm64'][i]! } })),
  };
  const bytes = encodeManifest(idx as never);
  const index = descriptorFor(MediaType.ImageIndex, bytes);
  await t.push(index, bytes);
  await t.tag(index, 'v1');
  return { index, platforms };
}

describe('copyGraph', () => {
  it('copies an index, its platforms, referrers of the root, of a platform and of a referrer, children first', async () => {
    const src = new MemoryTarget('src');
    const { index, platforms } = await multiArch(src);
    const sig = await pushArtifact(src, 'sig of index', { subject: index });
    const sbom = await pushArtifact(src, 'sbom', { subject: index, artifactType: 'application/spdx+json' });
    const sbomSig = await pushArtifact(src, 'sig of sbom', { subject: sbom });
    const platSig = await pushArtifact(src, 'sig of amd64', { subject: platforms[0]! });
    const dst = new RecordingTarget('dst');
    const report = await copyGraph(src, dst, index);
    for (const d of [index, ...platforms, sig, sbom, sbomSig, platSig, EMPTY_JSON])
      expect(await dst.exists(d as Descriptor)).toBe(true);
    expect(report.referrers).toBe(4);
    expect(report.manifests).toBe(7);
    const again = await copyGraph(src, dst, index);
    expect(again.copied).toBe(0);
  });

  it('without referrers copies only the content graph', async () => {
    const src = new MemoryTarget();
    const g = await pushGraph(src);
    const dst = new MemoryTarget();
    await copyGraph(src, dst, g.root, { referrers: false });
    expect(await dst.exists(g.root)).toBe(true);
    expect(await dst.exists(g.sig)).toBe(false);
  });

  it('a source serving wrong bytes fails the copy and leaves no manifest with missing blobs', async () => {
    const honest = new MemoryTarget();
    const g = await pushGraph(honest);
    // find a layer of the sbom and make the source lie about it
    const { fetchManifest } = await import('../../../src/store/index.ts');
    const { manifest } = await fetchManifest(honest, g.sbom);
    const layer = (manifest as { layers: Descriptor[] }).layers[0]!;
    const src = new LyingTarget(layer.digest);
    await copyGraph(honest, src, g.root); // same content, but fetch of `layer` lies
    const dst = new RecordingTarget('dst');
    await expect(copyGraph(src, dst, g.root)).rejects.toThrow(/does not match/);
    expect(await dst.exists(layer)).toBe(false);
    expect(await dst.exists(g.sbom)).toBe(false);
    expect(await dst.exists(g.sbomSig)).toBe(false);
  });
});
