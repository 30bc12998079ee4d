import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { cp, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, normalize } from 'node:path';
import { promisify } from 'node:util';
import { descriptorFor, digestOf, MediaType } from '../../../src/oci/index.ts';
import {
  fetchAll,
  fetchManifest,
  HttpLayoutTarget,
  LayoutTarget,
  isWritable,
  openLayout,
  requireWritable,
  TarLayoutTarget,
} from '../../../src/store/index.ts';
import { pushArtifact, pushGraph } from '../../helpers/artifacts.ts';

const run = promisify(execFile);
const VECTORS = join(import.meta.dirname, '../../fixtures/notary/oci-layout');

/** A plain static file server (what a Flatpak-style web host is), on loopback. */
async function staticServer(
  root: string,
  tamper?: (path: string, data: Buffer) => Buffer
): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const path = normalize(decodeURIComponent((req.url ?? '/').split('?')[0]!));
    const file = join(root, path);
    if (!file.startsWith(root)) return void res.writeHead(403).end();
    stat(file).then(
      async (st) => {
        if (!st.isFile()) return void res.writeHead(404).end();
        if (tamper) {
          const data = tamper(path, await readFile(file));
          res.writeHead(200, { 'content-length': data.length });
          return void res.end(req.method === 'HEAD' ? undefined : data);
        }
        res.writeHead(200, { 'content-length': st.size });
        if (req.method === 'HEAD') return void res.end();
        createReadStream(file).pipe(res);
      },
      () => res.writeHead(404).end()
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}/layout`, close: () => new Promise((r) => server.close(() => r())) };
}

describe('OCI image layout targets', () => {
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'signet-layout-'));
  });
  afterAll(async () => rm(work, { recursive: true, force: true }));

  it('directory: push, tag, resolve, fetch, referrers', async () => {
    const t = await LayoutTarget.open(join(work, 'dir'), { create: true });
    const g = await pushGraph(t);
    expect(await t.tags()).toEqual(['v1']);
    const root = await t.resolve('v1');
    expect(root.digest).toBe(g.root.digest);
    expect((await t.resolve(g.sig.digest)).mediaType).toBe(MediaType.ImageManifest);
    expect((await t.referrers(root)).map((d) => d.digest).sort()).toEqual([g.sig.digest, g.sbom.digest].sort());
    expect((await t.referrers(root, 'application/spdx+json')).map((d) => d.digest)).toEqual([g.sbom.digest]);
    expect((await t.referrers(g.sbom)).map((d) => d.digest)).toEqual([g.sbomSig.digest]);
    const { manifest } = await fetchManifest(t, root);
    expect(manifest.schemaVersion).toBe(2);
  });

  it('refuses content that does not match its digest and leaves nothing behind', async () => {
    const dir = join(work, 'reject');
    const t = await LayoutTarget.open(dir, { create: true });
    const index = await readFile(join(dir, 'index.json'));
    const good = Buffer.from('good bytes');
    await expect(t.push(descriptorFor('application/octet-stream', good), Buffer.from('evil bytes'))).rejects.toThrow(
      /does not match/
    );
    const { Readable } = await import('node:stream');
    await expect(
      t.push(descriptorFor('application/octet-stream', good), Readable.from([Buffer.from('evil bytes')]))
    ).rejects.toThrow(/does not match/);
    expect(await readdir(join(dir, 'blobs', 'sha256'))).toEqual([]);
    expect((await readFile(join(dir, 'index.json'))).equals(index)).toBe(true);
  });

  it('detects a blob tampered on disk when it is read', async () => {
    const dir = join(work, 'tamper');
    const t = await LayoutTarget.open(dir, { create: true });
    const a = await pushArtifact(t, 'payload', { tag: 'v1' });
    const { manifest } = await fetchManifest(t, a);
    const layer = (manifest as { layers: Array<{ digest: string; size: number; mediaType: string }> }).layers[0]!;
    await writeFile(join(dir, 'blobs', 'sha256', layer.digest.slice(7)), 'PAYLOAD');
    await expect(fetchAll(t, layer)).rejects.toThrow(/does not match/);
  });

  it('keeps index.json valid under 20 concurrent referrer pushes', async () => {
    const t = await LayoutTarget.open(join(work, 'concurrent'), { create: true });
    const root = await pushArtifact(t, 'root', { tag: 'v1' });
    const pushed = await Promise.all(
      Array.from({ length: 20 }, (_, i) => pushArtifact(t, `sig ${i}`, { subject: root }))
    );
    expect((await t.referrers(root)).map((d) => d.digest).sort()).toEqual(pushed.map((d) => d.digest).sort());
    const index = JSON.parse(await readFile(join(work, 'concurrent', 'index.json'), 'utf8')) as {
      manifests: unknown[];
    };
    expect(index.manifests).toHaveLength(21);
  });

  it('tar: write, close, reopen, same graph; oci-layout and index.json come first', async () => {
    const path = join(work, 'a.tar');
    const t = await TarLayoutTarget.open(path, { create: true });
    const g = await pushGraph(t);
    await t.close();
    const listing = (await run('tar', ['-tf', path])).stdout.trim().split('\n');
    expect(listing.slice(0, 2)).toEqual(['oci-layout', 'index.json']);
    expect(listing.filter((l) => l.startsWith('blobs/sha256/')).length).toBeGreaterThanOrEqual(9);
    const r = await openLayout(path);
    expect((await r.resolve('v1')).digest).toBe(g.root.digest);
    expect((await r.referrers(g.sbom)).map((d) => d.digest)).toEqual([g.sbomSig.digest]);
    await r.close();
  });

  it('reads a layout made by umoci', async () => {
    const dir = join(work, 'umoci');
    await run('umoci', ['init', '--layout', dir]);
    await run('umoci', ['new', '--image', `${dir}:latest`]);
    await run('umoci', ['config', '--image', `${dir}:latest`, '--config.label', 'a=b']);
    const t = await openLayout(dir);
    const root = await t.resolve('latest');
    const { manifest } = await fetchManifest(t, root);
    const config = JSON.parse(
      Buffer.from(
        await fetchAll(t, (manifest as { config: { digest: string; size: number; mediaType: string } }).config)
      ).toString()
    ) as { config: { Labels: Record<string, string> } };
    expect(config.config.Labels.a).toBe('b');
  });

  it('reads the notation-made layout of the Notary vectors (signature referrer, legacy form)', async () => {
    const dir = join(work, 'e2e');
    await cp(join(VECTORS, 'e2e-valid-signature'), dir, { recursive: true });
    const t = await openLayout(dir);
    const root = await t.resolve('v1');
    expect(root.digest).toMatch(/^sha256:b8479de3/);
    const refs = await t.referrers(root);
    expect(refs.length).toBe(1);
    expect(refs[0]!.artifactType).toBe('application/vnd.cncf.notary.signature');
    expect(await t.tags()).toContain(`sha256-${root.digest.slice(7)}`);
  });

  describe('read-only over plain HTTP', () => {
    let dir: string;
    let g: Awaited<ReturnType<typeof pushGraph>>;
    beforeAll(async () => {
      dir = join(work, 'web', 'layout');
      const t = await LayoutTarget.open(dir, { create: true });
      g = await pushGraph(t);
    });

    it('resolves, fetches and lists referrers from a static web server', async () => {
      const srv = await staticServer(join(work, 'web'));
      try {
        const t = await openLayout(srv.url);
        expect(t).toBeInstanceOf(HttpLayoutTarget);
        expect(isWritable(t)).toBe(false);
        const root = await t.resolve('v1');
        expect(root.digest).toBe(g.root.digest);
        const { manifest } = await fetchManifest(t, root);
        const layer = (manifest as { layers: Array<{ digest: string; size: number; mediaType: string }> }).layers[0]!;
        expect(Buffer.from(await fetchAll(t, layer)).toString()).toBe('root artifact v1');
        expect((await t.referrers(root)).map((d) => d.digest).sort()).toEqual([g.sig.digest, g.sbom.digest].sort());
        expect((await t.referrers(g.sbom)).map((d) => d.digest)).toEqual([g.sbomSig.digest]);
        expect(() => requireWritable(t)).toThrow(/read-only/);
        await expect(openLayout(srv.url, { create: true })).rejects.toThrow(/read-only/);
        await t.close();
      } finally {
        await srv.close();
      }
    });

    it('a served blob with wrong bytes fails its digest check', async () => {
      const srv = await staticServer(join(work, 'web'), (path, data) =>
        path.includes('blobs') && data.toString() === 'root artifact v1' ? Buffer.from('root artifact v2') : data
      );
      try {
        const t = await openLayout(srv.url);
        const root = await t.resolve('v1');
        const { manifest } = await fetchManifest(t, root);
        const layer = (manifest as { layers: Array<{ digest: string; size: number; mediaType: string }> }).layers[0]!;
        await expect(fetchAll(t, layer)).rejects.toThrow(/does not match/);
        expect(digestOf('root artifact v1')).toBe(layer.digest);
        await t.close();
      } finally {
        await srv.close();
      }
    });
  });
});
