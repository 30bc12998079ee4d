import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { digestOf, MediaType, type Descriptor } from '../../../../src/oci/index.ts';
import { fetchAll, fetchManifest, LayoutTarget, openLayout, TarLayoutTarget } from '../../../../src/store/index.ts';
import { pushArtifact, pushGraph } from '../../../helpers/artifacts.ts';

const run = promisify(execFile);

describe('tar layout (TarLayoutTarget)', () => {
  let work: string;
  let stageRoot: string;
  const savedTmp = process.env.TMPDIR;
  // Stages go to os.tmpdir(); a private one shows when the target made one and that it went away.
  const stages = async (): Promise<string[]> => (await readdir(stageRoot)).filter((n) => n.startsWith('signet-tar-'));
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'signet-layout-tar-'));
    stageRoot = join(work, 'tmp');
    await mkdir(stageRoot);
    process.env.TMPDIR = stageRoot;
  });
  afterAll(async () => {
    if (savedTmp === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = savedTmp;
    await rm(work, { recursive: true, force: true });
  });

  it('writes a new tar on close, oci-layout and index.json first, and reads the same graph back', async () => {
    const path = join(work, 'new', 'a.tar');
    const t = await openLayout(path, { create: true });
    expect(t).toBeInstanceOf(TarLayoutTarget);
    expect(t.name).toBe(`oci:${path}`);
    const g = await pushGraph(t);
    await t.close();
    expect(await stages()).toEqual([]);
    const listing = (await run('tar', ['-tf', path])).stdout.trim().split('\n');
    expect(listing.slice(0, 2)).toEqual(['oci-layout', 'index.json']);
    expect(listing).toEqual(
      expect.arrayContaining(['blobs/', 'blobs/sha256/', `blobs/sha256/${g.sbomSig.digest.slice(7)}`])
    );
    expect(listing.filter((l) => /^blobs\/sha256\/[a-f0-9]{64}$/.test(l))).toHaveLength(9); // 4 manifests, their 4 layers, 1 shared empty config
    const r = await openLayout(path);
    expect(await r.tags()).toEqual(['v1']);
    expect((await r.resolve('v1')).digest).toBe(g.root.digest);
    expect((await r.referrers(g.root)).map((d) => d.digest).sort()).toEqual([g.sig.digest, g.sbom.digest].sort());
    expect((await r.referrers(g.sbom)).map((d) => d.digest)).toEqual([g.sbomSig.digest]);
    const { manifest } = await fetchManifest(r, g.root);
    expect(Buffer.from(await fetchAll(r, (manifest as { layers: Descriptor[] }).layers[0]!)).toString()).toBe(
      'root artifact v1'
    );
    await r.close();
    // The same tar unpacked by GNU tar is a directory layout with the same content.
    const out = join(work, 'unpacked');
    await mkdir(out);
    await run('tar', ['-xf', path, '-C', out]);
    expect((await (await openLayout(out)).resolve('v1')).digest).toBe(g.root.digest);
  });

  it('reads tars made by GNU tar (./ prefix, gnu long names, pax headers) by byte range, staging nothing', async () => {
    const dir = join(work, 'gnu-src');
    const t = await LayoutTarget.open(dir, { create: true });
    const root = await pushArtifact(t, 'root', { tag: 'v1' });
    const sig = await pushArtifact(t, 'sig', { subject: root });
    // A sha512 blob's path is 141 characters: past ustar's 100, so tar needs a long-name record.
    const long = randomBytes(3000);
    const longDesc: Descriptor = {
      mediaType: MediaType.OctetStream,
      digest: digestOf(long, 'sha512'),
      size: long.length,
    };
    await t.push(longDesc, long);
    const empty: Descriptor = { mediaType: MediaType.OctetStream, digest: digestOf(''), size: 0 };
    await t.push(empty, Buffer.alloc(0));
    const gnu = join(work, 'gnu.tar');
    const pax = join(work, 'pax.tar');
    await run('tar', ['--format=gnu', '-cf', gnu, '-C', dir, '.']);
    await run('tar', ['--format=pax', '-cf', pax, '-C', dir, 'blobs', 'index.json', 'oci-layout']);
    for (const path of [gnu, pax]) {
      const r = await openLayout(path);
      expect((await r.resolve('v1')).digest).toBe(root.digest);
      expect((await r.referrers(root)).map((d) => d.digest)).toEqual([sig.digest]);
      expect(Buffer.from(await fetchAll(r, longDesc, 1 << 20)).equals(long)).toBe(true);
      expect(await fetchAll(r, empty)).toHaveLength(0);
      expect(await r.exists(longDesc)).toBe(true);
      expect(await stages()).toEqual([]);
      const before = await stat(path);
      await r.close();
      expect((await stat(path)).mtimeMs).toBe(before.mtimeMs); // nothing written, nothing rewritten
    }
  });

  it('adds to and deletes from an existing tar; the rewritten tar keeps every other blob', async () => {
    const path = join(work, 'edit.tar');
    const w = await TarLayoutTarget.open(path, { create: true });
    const g = await pushGraph(w);
    await w.close();
    const t = await TarLayoutTarget.open(path);
    expect(await stages()).toEqual([]);
    const extra = await pushArtifact(t, 'second signature', { subject: g.root });
    expect(await stages()).toHaveLength(1);
    await t.delete(g.sbomSig);
    await t.tag(g.sbom, 'sbom');
    // Before close the old tar is untouched; reads see the changes.
    expect(await t.referrers(g.sbom)).toEqual([]);
    expect((await t.referrers(g.root)).map((d) => d.digest).sort()).toEqual(
      [g.sig.digest, g.sbom.digest, extra.digest].sort()
    );
    expect(await (await openLayout(path)).tags()).toEqual(['v1']);
    await t.close();
    expect(await stages()).toEqual([]);
    await expect(t.push(g.root, Buffer.alloc(0))).rejects.toMatchObject({ code: 'UNSUPPORTED' });
    await t.close(); // twice is harmless
    const r = await openLayout(path);
    expect(await r.tags()).toEqual(['sbom', 'v1']);
    expect((await r.referrers(g.root)).map((d) => d.digest).sort()).toEqual(
      [g.sig.digest, g.sbom.digest, extra.digest].sort()
    );
    expect(await r.exists(g.sbomSig)).toBe(false);
    for (const d of [g.root, g.sig, g.sbom, extra]) expect((await fetchManifest(r, d)).manifest.schemaVersion).toBe(2);
    const listing = (await run('tar', ['-tf', path])).stdout;
    expect(listing).not.toContain(g.sbomSig.digest.slice(7));
    expect(listing).not.toMatch(/\.tmp-/);
    expect((await readdir(join(work))).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });

  it('bytes changed inside the tar fail their digest check', async () => {
    const path = join(work, 'tamper.tar');
    const w = await TarLayoutTarget.open(path, { create: true });
    const a = await pushArtifact(w, 'precious payload', { tag: 'v1' });
    await w.close();
    const raw = await readFile(path);
    const at = raw.indexOf('precious payload');
    raw.write('PRECIOUS', at);
    await writeFile(path, raw);
    const r = await openLayout(path);
    const { manifest } = await fetchManifest(r, a);
    await expect(fetchAll(r, (manifest as { layers: Descriptor[] }).layers[0]!)).rejects.toMatchObject({
      code: 'DIGEST_MISMATCH',
    });
  });

  it('links in the tar are not followed, and non-layouts are refused', async () => {
    const src = join(work, 'links');
    const t = await LayoutTarget.open(src, { create: true });
    await pushArtifact(t, 'x', { tag: 'v1' });
    await writeFile(join(work, 'secret'), 'secret');
    const evil = `sha256:${digestOf('secret').slice(7)}`;
    await symlink(join(work, 'secret'), join(src, 'blobs', 'sha256', evil.slice(7)));
    const path = join(work, 'links.tar');
    await run('tar', ['-cf', path, '-C', src, '.']);
    const r = await openLayout(path);
    await expect(r.fetch({ mediaType: MediaType.OctetStream, digest: evil, size: 6 })).rejects.toMatchObject({
      code: 'BLOB_UNKNOWN',
    });
    expect(await r.exists({ mediaType: MediaType.OctetStream, digest: evil, size: 6 })).toBe(false);

    await expect(openLayout(join(work, 'missing.tar'))).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await writeFile(join(work, 'junk.tar'), randomBytes(4096));
    await expect(openLayout(join(work, 'junk.tar'))).rejects.toMatchObject({ code: 'MANIFEST_INVALID' });
    await writeFile(join(work, 'readme'), 'hello');
    await run('tar', ['-cf', join(work, 'plain.tar'), '-C', work, 'readme']);
    await expect(openLayout(join(work, 'plain.tar'))).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
