import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MediaType, descriptorFor, type Descriptor } from '../../../../src/oci/index.ts';
import {
  fetchAll,
  fetchManifest,
  HttpLayoutTarget,
  LayoutTarget,
  isWritable,
  openLayout,
  requireWritable,
  type ReadableTarget,
} from '../../../../src/store/index.ts';
import { pushGraph } from '../../../helpers/artifacts.ts';
import { serveStatic, type StaticServer } from './static-server.ts';

const layerOf = async (t: ReadableTarget, d: Descriptor): Promise<Descriptor> =>
  ((await fetchManifest(t, d)).manifest as { layers: Descriptor[] }).layers[0]!;

describe('layout over HTTP (HttpLayoutTarget)', () => {
  let work: string;
  let g: Awaited<ReturnType<typeof pushGraph>>;
  let big: Descriptor;
  let srv: StaticServer;
  const bigBytes = randomBytes(8 * 1024 * 1024);
  const hugeIndex = Buffer.alloc(5 * 1024 * 1024, 0x20);
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'signet-layout-http-'));
    const t = await LayoutTarget.open(join(work, 'layout'), { create: true });
    g = await pushGraph(t);
    big = descriptorFor(MediaType.OctetStream, bigBytes);
    await t.push(big, bigBytes);
    srv = await serveStatic(work, (path, req, res) => {
      if (path.startsWith('/moved/'))
        return (void res.writeHead(302, { location: `/layout/${path.slice('/moved/'.length)}` }).end(), true);
      if (path === '/broken/index.json') return (void res.writeHead(500).end('oops'), true);
      if (path.startsWith('/busy/blobs/')) return (void res.writeHead(503).end(), true);
      if (path === '/busy/index.json') return '/layout/index.json';
      if (path === '/huge/index.json')
        return (void res.writeHead(200, { 'content-length': hugeIndex.length }).end(hugeIndex), true);
      if (path.startsWith('/evil/')) {
        if (path.endsWith('index.json') || path.endsWith(g.root.digest.slice(7)))
          return `/layout/${path.slice('/evil/'.length)}`;
        const layerHex = '/blobs/sha256/';
        if (path.includes(layerHex) && req.method === 'GET') {
          // Wrong bytes of the right length for the layer of the root; too many bytes for the big blob.
          if (path.endsWith(big.digest.slice(7)))
            return (void res.end(Buffer.concat([bigBytes, Buffer.from('x')])), true);
          return (void res.end('root artifact v2'), true);
        }
      }
      if (path.startsWith('/evil/')) return `/layout/${path.slice('/evil/'.length)}`;
      return false;
    });
  });
  afterAll(async () => {
    await srv.close();
    await rm(work, { recursive: true, force: true });
  });

  it('resolves, fetches, lists tags and referrers from a static web server; read-only', async () => {
    const t = await openLayout(`${srv.url}/layout/`);
    expect(t).toBeInstanceOf(HttpLayoutTarget);
    expect(isWritable(t)).toBe(false);
    expect(t.name).toBe(`oci:${srv.url}/layout/`);
    expect(await t.tags()).toEqual(['v1']);
    const root = await t.resolve('v1');
    expect(root.digest).toBe(g.root.digest);
    expect(await t.resolve(g.sig.digest)).toEqual(g.sig);
    expect(Buffer.from(await fetchAll(t, await layerOf(t, root))).toString()).toBe('root artifact v1');
    expect(Buffer.from(await fetchAll(t, big, bigBytes.length)).equals(bigBytes)).toBe(true);
    expect((await t.referrers(root)).map((d) => d.digest).sort()).toEqual([g.sig.digest, g.sbom.digest].sort());
    expect((await t.referrers(root, 'application/spdx+json')).map((d) => d.digest)).toEqual([g.sbom.digest]);
    expect((await t.referrers(g.sbom)).map((d) => d.digest)).toEqual([g.sbomSig.digest]);
    expect(await t.exists(g.sig)).toBe(true);
    expect(await t.exists({ ...g.sig, size: 1 })).toBe(false);
    // A second scan of an unchanged index.json reads no manifest again.
    const seen = srv.requests.length;
    await t.referrers(g.sbom);
    expect(srv.requests.slice(seen)).toEqual(['GET /layout/index.json']);
    // No method that only throws: the store has no push, tag or delete at all.
    expect('push' in t || 'tag' in t || 'delete' in t).toBe(false);
    expect(() => requireWritable(t)).toThrow(
      expect.objectContaining({ code: 'READ_ONLY', kind: 'usage', message: expect.stringMatching(/read-only/) })
    );
    await t.close();
  });

  it('follows redirects of a moved layout', async () => {
    const t = await openLayout(`${srv.url}/moved`);
    expect((await t.resolve('v1')).digest).toBe(g.root.digest);
    expect(Buffer.from(await fetchAll(t, await layerOf(t, g.root))).toString()).toBe('root artifact v1');
    await t.close();
  });

  it('served bytes that do not match the descriptor fail', async () => {
    const t = await openLayout(`${srv.url}/evil`);
    const layer = await layerOf(t, g.root);
    await expect(fetchAll(t, layer)).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
    await expect(fetchAll(t, big, bigBytes.length + 10)).rejects.toMatchObject({ code: 'SIZE_EXCEEDED' });
    await t.close();
  });

  it('404 is not found; other failures are UNAVAILABLE (inconclusive); index.json is bounded', async () => {
    const t = await openLayout(`${srv.url}/layout`);
    const missing = descriptorFor(MediaType.OctetStream, Buffer.from('never pushed'));
    await expect(t.fetch(missing)).rejects.toMatchObject({ code: 'BLOB_UNKNOWN', kind: 'notfound' });
    await expect(t.fetch({ ...missing, mediaType: MediaType.ImageManifest })).rejects.toMatchObject({
      code: 'MANIFEST_UNKNOWN',
    });
    await expect(t.resolve(missing.digest)).rejects.toMatchObject({ code: 'MANIFEST_UNKNOWN' });
    await expect(t.resolve('v9')).rejects.toMatchObject({ code: 'MANIFEST_UNKNOWN' });
    expect(await t.exists(missing)).toBe(false);
    await t.close();

    const none = await openLayout(`${srv.url}/nowhere`);
    await expect(none.resolve('v1')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await none.close();
    const broken = await openLayout(`${srv.url}/broken`);
    await expect(broken.resolve('v1')).rejects.toMatchObject({ code: 'UNAVAILABLE', kind: 'inconclusive' });
    await broken.close();
    const busy = await openLayout(`${srv.url}/busy`);
    expect((await busy.resolve('v1')).digest).toBe(g.root.digest);
    await expect(busy.fetch(g.root)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    await expect(busy.exists(g.root)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    await busy.close();
    const huge = await openLayout(`${srv.url}/huge`);
    await expect(huge.tags()).rejects.toMatchObject({ code: 'SIZE_EXCEEDED' });
    await huge.close();
    const down = await openLayout('http://127.0.0.1:9/layout');
    await expect(down.resolve('v1')).rejects.toMatchObject({ code: 'UNAVAILABLE', kind: 'inconclusive' });
    await down.close();
  });

  it('fetches given up part way release their connections', async () => {
    const t = await openLayout(`${srv.url}/layout`);
    const abandonThenResolve = async (): Promise<Descriptor> => {
      for (let i = 0; i < 24; i++) {
        const s = await t.fetch(big);
        await new Promise<void>((r) => s.once('data', () => r()));
        s.destroy();
      }
      return t.resolve(g.sig.digest);
    };
    // With 16 pooled connections, leaked ones would leave this waiting forever.
    const root = await Promise.race([
      abandonThenResolve(),
      new Promise<never>((_, j) => setTimeout(() => j(new Error('connections exhausted')), 5000)),
    ]);
    expect(root.digest).toBe(g.sig.digest);
    await t.close();
  });
});
