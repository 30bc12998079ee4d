import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  EMPTY_JSON,
  MediaType,
  descriptorFor,
  encodeManifest,
  type Descriptor,
  type ImageIndex,
} from '../../../../src/oci/index.ts';
import { fetchAll, LayoutTarget, openLayout, readAll, REF_NAME } from '../../../../src/store/index.ts';
import { pushArtifact, pushGraph } from '../../../helpers/artifacts.ts';

const readIndex = async (dir: string): Promise<ImageIndex> =>
  JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as ImageIndex;

describe('directory layout (LayoutTarget)', () => {
  let work: string;
  let n = 0;
  const fresh = async (): Promise<{ dir: string; t: LayoutTarget }> => {
    const dir = join(work, `l${n++}`);
    return { dir, t: await LayoutTarget.open(dir, { create: true }) };
  };
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'signet-layout-dir-'));
  });
  afterAll(async () => rm(work, { recursive: true, force: true }));

  it('creating writes oci-layout and an empty index; a directory without oci-layout is refused', async () => {
    const { dir, t } = await fresh();
    expect(JSON.parse(await readFile(join(dir, 'oci-layout'), 'utf8'))).toEqual({ imageLayoutVersion: '1.0.0' });
    expect(await readIndex(dir)).toMatchObject({ schemaVersion: 2, manifests: [] });
    expect(t.name).toBe(`oci:${dir}`);
    await mkdir(join(work, 'plain'));
    await expect(openLayout(join(work, 'plain'))).rejects.toMatchObject({ code: 'NOT_FOUND' });
    // A directory is a directory layout even when its name ends in .tar.
    const odd = join(work, 'odd.tar');
    await LayoutTarget.open(odd, { create: true });
    expect(await openLayout(odd)).toBeInstanceOf(LayoutTarget);
  });

  it('pushes blobs (streamed and in memory) and a manifest, tags it, resolves and fetches it back', async () => {
    const { dir, t } = await fresh();
    const layer = randomBytes(1024 * 1024 + 7);
    const layerDesc = descriptorFor(MediaType.ImageLayer, layer);
    await t.push(layerDesc, Readable.from([layer.subarray(0, 1000), layer.subarray(1000)]));
    await t.push(EMPTY_JSON, Buffer.from('{}'));
    const manifest = encodeManifest({
      schemaVersion: 2,
      mediaType: MediaType.ImageManifest,
      config: { ...EMPTY_JSON },
      layers: [layerDesc],
    });
    const desc = descriptorFor(MediaType.ImageManifest, manifest);
    await t.push(desc, Readable.from([manifest]));
    // A manifest without subject is not listed until tagged.
    expect((await readIndex(dir)).manifests).toEqual([]);
    await t.tag(desc, 'v1');
    expect(await t.resolve('v1')).toEqual({ ...desc, annotations: { [REF_NAME]: 'v1' } });
    expect(await t.resolve(desc.digest)).toEqual(desc);
    expect(Buffer.from(await fetchAll(t, desc)).equals(manifest)).toBe(true);
    expect(Buffer.from(await readAll(await t.fetch(layerDesc), layer.length)).equals(layer)).toBe(true);
    expect((await readFile(join(dir, 'blobs', 'sha256', layerDesc.digest.slice(7)))).equals(layer)).toBe(true);
    expect(await t.exists(layerDesc)).toBe(true);
    expect(await t.exists({ ...layerDesc, size: 1 })).toBe(false);
    // Pushing what is there already consumes nothing and changes nothing.
    await t.push(layerDesc, Readable.from([Buffer.from('ignored')]));
    expect(await t.tags()).toEqual(['v1']);
  });

  it('refuses content that does not match its descriptor and leaves no trace', async () => {
    const { dir, t } = await fresh();
    const before = await readFile(join(dir, 'index.json'));
    const good = Buffer.from('good bytes');
    const desc = descriptorFor(MediaType.OctetStream, good);
    await expect(t.push(desc, Buffer.from('evil bytes'))).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
    await expect(t.push(desc, Readable.from([Buffer.from('evil bytes')]))).rejects.toMatchObject({
      code: 'DIGEST_MISMATCH',
    });
    await expect(t.push(desc, Readable.from([Buffer.from('good bytes and more')]))).rejects.toMatchObject({
      code: 'SIZE_EXCEEDED',
    });
    await expect(t.push(desc, Readable.from([Buffer.from('good')]))).rejects.toMatchObject({ code: 'SIZE_INVALID' });
    const notJson = Buffer.from('not a manifest');
    await expect(t.push(descriptorFor(MediaType.ImageManifest, notJson), notJson)).rejects.toMatchObject({
      code: 'MANIFEST_INVALID',
    });
    expect(await readdir(join(dir, 'blobs', 'sha256'))).toEqual([]); // no blob, no temp file
    expect((await readFile(join(dir, 'index.json'))).equals(before)).toBe(true);
    expect((await readdir(dir)).sort()).toEqual(['blobs', 'index.json', 'oci-layout']);
  });

  it('a blob changed on disk fails its digest check when fetched; missing content is not found', async () => {
    const { dir, t } = await fresh();
    const a = await pushArtifact(t, 'payload', { tag: 'v1' });
    const layer = descriptorFor(MediaType.OctetStream, Buffer.from('payload'));
    await writeFile(join(dir, 'blobs', 'sha256', layer.digest.slice(7)), 'PAYLOAD');
    await expect(fetchAll(t, layer)).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
    await rm(join(dir, 'blobs', 'sha256', layer.digest.slice(7)));
    await expect(t.fetch(layer)).rejects.toMatchObject({ code: 'BLOB_UNKNOWN' });
    await rm(join(dir, 'blobs', 'sha256', a.digest.slice(7)));
    await expect(t.fetch(a)).rejects.toMatchObject({ code: 'MANIFEST_UNKNOWN' });
  });

  it('tag() replaces only the entry of that name; a referrer losing its tag stays a referrer', async () => {
    const { dir, t } = await fresh();
    const one = await pushArtifact(t, 'one', { tag: 'v1' });
    const two = await pushArtifact(t, 'two', { tag: 'latest' });
    await t.tag(two, 'v1');
    expect((await readIndex(dir)).manifests.map((e) => [e.digest, e.annotations?.[REF_NAME]]).sort()).toEqual(
      [
        [two.digest, 'latest'],
        [two.digest, 'v1'],
      ].sort()
    );
    expect(await t.resolve(one.digest)).toEqual(one); // untagged but still there by digest
    const sig = await pushArtifact(t, 'sig', { subject: two, tag: 'sig' });
    await t.tag(one, 'sig');
    expect((await t.referrers(two)).map((d) => d.digest)).toEqual([sig.digest]);
    await expect(t.tag(two, 'not/a/tag')).rejects.toMatchObject({ code: 'TAG_INVALID' });
    await expect(
      t.tag(descriptorFor(MediaType.ImageManifest, Buffer.from('{"gone":1}')), 'gone')
    ).rejects.toMatchObject({ code: 'MANIFEST_UNKNOWN' });
    await expect(t.tag({ ...EMPTY_JSON, mediaType: MediaType.ImageManifest }, 'config')).rejects.toMatchObject({
      code: 'MANIFEST_INVALID',
    });
    expect(await t.tags()).toEqual(['latest', 'sig', 'v1']);
  });

  it('ref names that are not OCI tags (Flatpak refs) resolve by exact string and are listed', async () => {
    const { dir, t } = await fresh();
    const app = await pushArtifact(t, 'app');
    const runtime = await pushArtifact(t, 'runtime');
    const index = await readIndex(dir);
    index.manifests.push({ ...app, annotations: { [REF_NAME]: 'app/org.test.Hello/x86_64/master' } });
    await writeFile(join(dir, 'index.json'), JSON.stringify(index));
    await t.setRefName(runtime, 'runtime/org.test.Platform/x86_64/stable');
    expect(await t.tags()).toEqual(['app/org.test.Hello/x86_64/master', 'runtime/org.test.Platform/x86_64/stable']);
    expect((await t.resolve('runtime/org.test.Platform/x86_64/stable')).digest).toBe(runtime.digest);
    expect((await t.resolve('app/org.test.Hello/x86_64/master')).digest).toBe(app.digest);
    await expect(t.resolve('app/org.test.Hello')).rejects.toMatchObject({ code: 'MANIFEST_UNKNOWN' });
    await expect(t.tag(app, 'app/org.test.Hello/x86_64/master')).rejects.toMatchObject({ code: 'TAG_INVALID' });
  });

  it('resolves unlisted manifests by digest (index, manifest without mediaType), and refuses blobs that are not manifests', async () => {
    const { t } = await fresh();
    const root = await pushArtifact(t, 'root');
    const idxBytes = encodeManifest({ schemaVersion: 2, mediaType: MediaType.ImageIndex, manifests: [root] });
    const idx = descriptorFor(MediaType.ImageIndex, idxBytes);
    await t.push(idx, idxBytes);
    expect(await t.resolve(idx.digest)).toEqual(idx);
    const bare = Buffer.from(JSON.stringify({ schemaVersion: 2, config: EMPTY_JSON, layers: [] }));
    const bareDesc = descriptorFor(MediaType.ImageManifest, bare);
    await t.push(bareDesc, bare);
    expect(await t.resolve(bareDesc.digest)).toEqual(bareDesc);
    await expect(t.resolve(EMPTY_JSON.digest)).rejects.toMatchObject({ code: 'MANIFEST_INVALID' });
    await expect(t.resolve(`sha256:${'0'.repeat(64)}`)).rejects.toMatchObject({ code: 'MANIFEST_UNKNOWN' });
    await expect(t.resolve('sha256:../../../etc/passwd')).rejects.toMatchObject({ code: 'DIGEST_INVALID' });
    await expect(
      t.fetch({ mediaType: MediaType.OctetStream, digest: 'sha256:../../index.json', size: 2 })
    ).rejects.toMatchObject({ code: 'DIGEST_INVALID' });
  });

  it('an index.json entry pointing outside blobs/ is refused, not followed', async () => {
    const { dir, t } = await fresh();
    await writeFile(join(work, 'secret'), 'outside');
    await writeFile(
      join(dir, 'index.json'),
      JSON.stringify({
        schemaVersion: 2,
        manifests: [
          {
            mediaType: MediaType.ImageManifest,
            digest: 'sha256:../../../secret',
            size: 7,
            annotations: { [REF_NAME]: 'v1' },
          },
        ],
      })
    );
    await expect(t.resolve('v1')).rejects.toMatchObject({ code: 'MANIFEST_INVALID' });
    await expect(t.referrers(EMPTY_JSON)).rejects.toMatchObject({ code: 'MANIFEST_INVALID' });
    await expect(t.tags()).rejects.toThrow(/index\.json is invalid/);
  });

  it('referrers: two referrers, a referrer of a referrer, an artifactType filter, and referrers inside a listed index', async () => {
    const { t } = await fresh();
    const g = await pushGraph(t);
    const refs = await t.referrers(g.root);
    expect(refs.map((d) => d.digest).sort()).toEqual([g.sig.digest, g.sbom.digest].sort());
    expect(refs.find((d) => d.digest === g.sbom.digest)).toMatchObject({
      artifactType: 'application/spdx+json',
      annotations: { 'org.example.kind': 'sbom' },
    });
    expect((await t.referrers(g.root, 'application/spdx+json')).map((d) => d.digest)).toEqual([g.sbom.digest]);
    expect(await t.referrers(g.root, 'application/none')).toEqual([]);
    expect((await t.referrers(g.sbom)).map((d) => d.digest)).toEqual([g.sbomSig.digest]);
    // A referrer reachable only through a tagged image index is found too.
    const { dir: other, t: t2 } = await fresh();
    const root = await pushArtifact(t2, 'root', { tag: 'v1' });
    const hidden = await pushArtifact(t2, 'nested sig', { subject: root });
    await writeFile(
      join(other, 'index.json'),
      JSON.stringify({
        schemaVersion: 2,
        manifests: (await readIndex(other)).manifests.filter((e) => e.digest !== hidden.digest),
      })
    );
    expect(await t2.referrers(root)).toEqual([]);
    const idxBytes = encodeManifest({ schemaVersion: 2, mediaType: MediaType.ImageIndex, manifests: [hidden] });
    const idx = descriptorFor(MediaType.ImageIndex, idxBytes);
    await t2.push(idx, idxBytes);
    await t2.tag(idx, 'bundle');
    expect((await t2.referrers(root)).map((d) => d.digest)).toEqual([hidden.digest]);
  });

  it('index.json stays valid JSON with every entry under 20 concurrent referrer pushes from two opens of the layout', async () => {
    const { dir, t } = await fresh();
    const again = await LayoutTarget.open(dir);
    const root = await pushArtifact(t, 'root', { tag: 'v1' });
    const pushed = await Promise.all(
      Array.from({ length: 20 }, (_, i) => pushArtifact(i % 2 ? t : again, `sig ${i}`, { subject: root }))
    );
    await Promise.all([t.close(), again.close()]);
    const index = await readIndex(dir);
    expect(index.manifests).toHaveLength(21);
    expect((await t.referrers(root)).map((d) => d.digest).sort()).toEqual(pushed.map((d) => d.digest).sort());
    expect((await readdir(dir)).sort()).toEqual(['blobs', 'index.json', 'oci-layout']);
  });

  it('delete removes the index entries and the blob', async () => {
    const { dir, t } = await fresh();
    const root = await pushArtifact(t, 'root', { tag: 'v1' });
    const sig = await pushArtifact(t, 'sig', { subject: root });
    expect(await t.referrers(root)).toHaveLength(1);
    await t.delete(sig);
    expect(await t.referrers(root)).toEqual([]);
    await t.delete(root);
    expect((await readIndex(dir)).manifests).toEqual([]);
    await expect(t.resolve('v1')).rejects.toMatchObject({ code: 'MANIFEST_UNKNOWN' });
    expect(await t.exists(root)).toBe(false);
    await expect(t.delete(root)).rejects.toMatchObject({ code: 'MANIFEST_UNKNOWN' });
    await expect(t.delete(descriptorFor(MediaType.OctetStream, Buffer.from('never')))).rejects.toMatchObject({
      code: 'BLOB_UNKNOWN',
    });
  });

  it('a fetch abandoned part way closes its file', async () => {
    const { t } = await fresh();
    const big = randomBytes(4 * 1024 * 1024);
    const desc: Descriptor = descriptorFor(MediaType.OctetStream, big);
    await t.push(desc, big);
    const fds = async (): Promise<number> => (await readdir('/proc/self/fd')).length;
    const before = await fds();
    for (let i = 0; i < 40; i++) {
      const s = await t.fetch(desc);
      await new Promise<void>((r) => s.once('data', () => r()));
      s.destroy();
    }
    await new Promise((r) => setTimeout(r, 100));
    expect(await fds()).toBeLessThan(before + 10);
  });
});
