import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { MediaType, successors, type Descriptor } from '../../../../src/oci/index.ts';
import {
  fetchAll,
  fetchManifest,
  LayoutTarget,
  openLayout,
  REF_NAME,
  TarLayoutTarget,
  type ReadableTarget,
} from '../../../../src/store/index.ts';
import { pushGraph } from '../../../helpers/artifacts.ts';

const run = promisify(execFile);
// In-repo copies of the Notary Project vectors (identical to /work/shared/vectors/notary), read in place.
const VECTORS = join(import.meta.dirname, '../../../fixtures/notary/oci-layout');
const NOTARY_SIGNATURE = 'application/vnd.cncf.notary.signature';

/** Every descriptor under a root, each fetched (and so verified) once. */
async function walk(t: ReadableTarget, root: Descriptor): Promise<Descriptor[]> {
  const out: Descriptor[] = [root];
  const { manifest } = await fetchManifest(t, root);
  for (const d of successors(manifest)) {
    if (d.mediaType === MediaType.ImageManifest || d.mediaType === MediaType.ImageIndex)
      out.push(...(await walk(t, d)));
    else {
      await fetchAll(t, d, 64 * 1024 * 1024);
      out.push(d);
    }
  }
  return out;
}

describe('layouts made and read by peer tools', () => {
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'signet-layout-peers-'));
  });
  afterAll(async () => rm(work, { recursive: true, force: true }));

  it('reads an image made by umoci, and writes a tar that skopeo copies back out unchanged', async () => {
    const dir = join(work, 'umoci');
    await run('umoci', ['init', '--layout', dir]);
    await run('umoci', ['new', '--image', `${dir}:latest`]);
    await run('umoci', ['config', '--image', `${dir}:latest`, '--config.label', 'org.example.made-by=umoci']);
    const src = await openLayout(dir);
    const root = await src.resolve('latest');
    expect(root.mediaType).toBe(MediaType.ImageManifest);
    const { manifest } = await fetchManifest(src, root);
    const configDesc = (manifest as { config: Descriptor }).config;
    const config = JSON.parse(Buffer.from(await fetchAll(src, configDesc)).toString()) as {
      config: { Labels: Record<string, string> };
    };
    expect(config.config.Labels['org.example.made-by']).toBe('umoci');
    const graph = await walk(src, root);

    const tar = join(work, 'from-umoci.tar');
    const dst = await TarLayoutTarget.open(tar, { create: true });
    for (const d of graph.slice().reverse()) await dst.push(d, await src.fetch(d));
    await dst.tag(root, 'latest');
    await dst.close();
    const out = join(work, 'skopeo-out');
    await run('skopeo', ['copy', '--quiet', `oci-archive:${tar}:latest`, `oci:${out}:latest`]);
    const back = await openLayout(out);
    expect((await back.resolve('latest')).digest).toBe(root.digest);
    expect((await walk(back, root)).map((d) => d.digest)).toEqual(graph.map((d) => d.digest));
  });

  it('skopeo and umoci read the layouts Signet writes (directory and tar)', async () => {
    const dir = join(work, 'ours');
    const t = await LayoutTarget.open(dir, { create: true });
    const g = await pushGraph(t);
    const raw = Buffer.from(await fetchAll(t, g.root));
    expect(
      (await run('skopeo', ['inspect', '--raw', `oci:${dir}:v1`], { encoding: 'buffer' })).stdout.equals(raw)
    ).toBe(true);
    expect((await run('umoci', ['ls', '--layout', dir])).stdout.trim()).toBe('v1');
    const tar = join(work, 'ours.tar');
    const w = await TarLayoutTarget.open(tar, { create: true });
    await pushGraph(w);
    await w.close();
    expect(
      (await run('skopeo', ['inspect', '--raw', `oci-archive:${tar}:v1`], { encoding: 'buffer' })).stdout.equals(raw)
    ).toBe(true);
    expect((await readdir(dir)).sort()).toEqual(['blobs', 'index.json', 'oci-layout']);
  });

  it('reads the notation-made Notary vector layout: tag v1, its signature referrer, and the referrers tag-schema index', async () => {
    const dir = join(VECTORS, 'e2e-valid-signature');
    const before = (await stat(join(dir, 'index.json'))).mtimeMs;
    const t = await openLayout(dir);
    const root = await t.resolve('v1');
    expect(root).toMatchObject({
      mediaType: MediaType.ImageManifest,
      digest: 'sha256:b8479de3f88fb259a0a9ea82a5b2a052a1ef3c4ebbcfc61482d5ae4c831f8af9',
      size: 517,
    });
    const refs = await t.referrers(root);
    expect(refs).toEqual([
      expect.objectContaining({
        digest: 'sha256:90ceaff260d657d797c408ac73564a9c7bb9d86055877c2a811f0e63b8c6524f',
        artifactType: NOTARY_SIGNATURE,
      }),
    ]);
    expect(await t.referrers(root, 'application/other')).toEqual([]);
    // The same signature, found the way a registry without the referrers API lists it.
    const schemaTag = `sha256-${root.digest.slice(7)}`;
    expect(await t.tags()).toEqual([schemaTag, 'v1'].sort());
    const tagIndex = await t.resolve(schemaTag);
    expect(tagIndex.mediaType).toBe(MediaType.ImageIndex);
    expect(tagIndex.annotations?.[REF_NAME]).toBe(schemaTag);
    const { manifest } = await fetchManifest(t, tagIndex);
    expect(successors(manifest).map((d) => d.digest)).toEqual(refs.map((d) => d.digest));
    const { manifest: sig } = await fetchManifest(t, refs[0]!);
    expect(sig.subject?.digest).toBe(root.digest);
    const envelope = (sig as { layers: Descriptor[] }).layers[0]!;
    expect(envelope.mediaType).toBe('application/jose+json');
    expect((await fetchAll(t, envelope, 1 << 20)).length).toBe(envelope.size);
    await t.close();
    expect((await stat(join(dir, 'index.json'))).mtimeMs).toBe(before); // reading wrote nothing

    const multi = await openLayout(join(VECTORS, 'e2e-valid-multiple-signatures'));
    const sigs = await multi.referrers(await multi.resolve('v1'), NOTARY_SIGNATURE);
    const { manifest: listed } = await fetchManifest(multi, await multi.resolve(schemaTag));
    // notation left that layout's tag-schema index listing only the first signature; the scan finds both.
    const tagged = successors(listed).map((d) => d.digest);
    expect(tagged).toEqual(['sha256:90ceaff260d657d797c408ac73564a9c7bb9d86055877c2a811f0e63b8c6524f']);
    expect(sigs.map((d) => d.digest).sort()).toEqual(
      [...tagged, 'sha256:c3ebe4a20b6832328fc5078a7795ddc1114b896e13fca2add38109c3866b5fbf'].sort()
    );
  });
});
