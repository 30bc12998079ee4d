import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readdir, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fsck, RegistryStorage } from '../../src/server/index.ts';
import { startServe, type Served } from '../helpers/serve.ts';
import {
  EMPTY_CONFIG,
  call,
  closeConnections,
  imageManifest,
  indexManifest,
  mustPutManifest,
  pushBlob,
  pushReferrer,
  schemaTag,
  type Desc,
} from '../helpers/registry-http.ts';

/** An image with its own config and one layer; returns its descriptor. */
async function pushImage(host: string, repo: string, name: string, tag?: string): Promise<Desc> {
  const config = await pushBlob(
    host,
    repo,
    Buffer.from(JSON.stringify({ name })),
    'application/vnd.oci.image.config.v1+json'
  );
  const layer = await pushBlob(host, repo, Buffer.from(`layer of ${name}`));
  return (await mustPutManifest(host, repo, imageManifest(config, [layer]), tag)).desc;
}

async function expectClean(root: string): Promise<void> {
  const report = await fsck(root);
  expect(report.corrupt).toEqual([]);
  expect(report.dangling).toEqual([]);
}

async function referrersOf(host: string, repo: string, digest: string): Promise<string[]> {
  const r = await call(host, 'GET', `/v2/${repo}/referrers/${digest}`);
  expect(r.status).toBe(200);
  return (JSON.parse(r.body.toString()) as { manifests: Desc[] }).manifests.map((d) => d.digest);
}

describe('signet serve: deletes keep the store whole (issue 9 §3)', () => {
  let work: string;
  let srv: Served;
  let host: string;
  const repo = 'team/a';

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'signet-deletes-'));
    srv = await startServe({ root: join(work, 'store') });
    host = srv.host;
  });
  afterAll(async () => {
    await closeConnections();
    await srv?.close();
    await rm(work, { recursive: true, force: true });
  });

  it('a manifest an index still lists is not deleted: 409 DENIED naming the index, and fsck stays clean', async () => {
    const amd64 = await pushImage(host, repo, 'amd64');
    const arm64 = await pushImage(host, repo, 'arm64');
    const index = (await mustPutManifest(host, repo, indexManifest([amd64, arm64]), 'multi')).desc;

    const refused = await call(host, 'DELETE', `/v2/${repo}/manifests/${amd64.digest}`);
    expect(refused.status).toBe(409);
    expect(refused.error?.code).toBe('DENIED');
    expect(refused.error?.message).toBe(
      `manifest ${amd64.digest} is listed by index ${index.digest} in repository ${repo}: delete the index first`
    );
    expect((await call(host, 'GET', `/v2/${repo}/manifests/${amd64.digest}`)).status).toBe(200);
    await expectClean(srv.root);

    // the storage API the enforcement code uses
    const storage = new RegistryStorage(srv.root);
    expect(await storage.indexesListing(repo, amd64.digest)).toEqual([index.digest]);
    expect(await storage.indexesListing(repo, index.digest)).toEqual([]);

    // index first, then its platform manifests
    expect((await call(host, 'DELETE', `/v2/${repo}/manifests/${index.digest}`)).status).toBe(202);
    expect(await storage.indexesListing(repo, amd64.digest)).toEqual([]);
    expect((await call(host, 'DELETE', `/v2/${repo}/manifests/${amd64.digest}`)).status).toBe(202);
    expect((await call(host, 'GET', `/v2/${repo}/manifests/multi`)).status).toBe(404);
    expect((await call(host, 'GET', `/v2/${repo}/manifests/${arm64.digest}`)).status).toBe(200);
    await expectClean(srv.root);
  });

  it('a blob a manifest uses is not deleted: 409 DENIED naming the manifest; once the manifest is gone it is', async () => {
    const layer = await pushBlob(host, repo, Buffer.from('shared layer'));
    const image = (await mustPutManifest(host, repo, imageManifest(EMPTY_CONFIG, [layer]), 'blobby')).desc;

    const refused = await call(host, 'DELETE', `/v2/${repo}/blobs/${layer.digest}`);
    expect(refused.status).toBe(409);
    expect(refused.error?.code).toBe('DENIED');
    expect(refused.error?.message).toBe(
      `blob ${layer.digest} is used by manifest ${image.digest} in repository ${repo}: delete the manifest first`
    );
    expect((await call(host, 'GET', `/v2/${repo}/blobs/${layer.digest}`)).status).toBe(200);
    await expectClean(srv.root);

    expect((await call(host, 'DELETE', `/v2/${repo}/manifests/${image.digest}`)).status).toBe(202);
    expect((await call(host, 'DELETE', `/v2/${repo}/blobs/${layer.digest}`)).status).toBe(202);
    expect((await call(host, 'GET', `/v2/${repo}/blobs/${layer.digest}`)).status).toBe(404);
    expect((await call(host, 'DELETE', `/v2/${repo}/blobs/${layer.digest}`)).status).toBe(404);
    await expectClean(srv.root);
  });

  it('a config blob is protected like a layer, and the same blob in another repository is not', async () => {
    const config = await pushBlob(host, 'team/cfg', Buffer.from('{"os":"linux"}'), 'application/json');
    const image = (await mustPutManifest(host, 'team/cfg', imageManifest(config, []))).desc;
    await pushBlob(host, 'team/other', Buffer.from('{"os":"linux"}'));
    const refused = await call(host, 'DELETE', `/v2/team/cfg/blobs/${config.digest}`);
    expect(refused.status).toBe(409);
    expect(refused.error?.message).toContain(`is used by manifest ${image.digest} in repository team/cfg`);
    expect((await call(host, 'DELETE', `/v2/team/other/blobs/${config.digest}`)).status).toBe(202);
    await expectClean(srv.root);
  });

  it('deleting a manifest deletes its referrers recursively and its referrers tag schema index', async () => {
    const image = await pushImage(host, repo, 'signed', 'signed');
    const sig = (await pushReferrer(host, repo, image, 'one')).desc;
    const sigOfSig = (await pushReferrer(host, repo, sig, 'countersignature')).desc;
    const other = (await pushReferrer(host, repo, image, 'two')).desc;
    // a client without the referrers API keeps the tag schema index beside
    const schemaIndex = (await mustPutManifest(host, repo, indexManifest([sig, other]), schemaTag(image.digest))).desc;
    expect(await referrersOf(host, repo, image.digest)).toEqual([sig.digest, other.digest].sort());
    expect(await referrersOf(host, repo, sig.digest)).toEqual([sigOfSig.digest]);

    expect((await call(host, 'DELETE', `/v2/${repo}/manifests/${image.digest}`)).status).toBe(202);
    for (const d of [image, sig, sigOfSig, other, schemaIndex])
      expect((await call(host, 'GET', `/v2/${repo}/manifests/${d.digest}`)).status, d.digest).toBe(404);
    expect((await call(host, 'GET', `/v2/${repo}/manifests/${schemaTag(image.digest)}`)).status).toBe(404);
    expect((await call(host, 'GET', `/v2/${repo}/manifests/signed`)).status).toBe(404);
    expect(await referrersOf(host, repo, image.digest)).toEqual([]);
    expect(await referrersOf(host, repo, sig.digest)).toEqual([]);
    const tags = JSON.parse((await call(host, 'GET', `/v2/${repo}/tags/list`)).body.toString()) as { tags: string[] };
    expect(tags.tags).not.toContain(schemaTag(image.digest));
    await expectClean(srv.root);
  });

  it('deleting one referrer rewrites the tag schema index without it (new index, tag moved), then drops the tag', async () => {
    const image = await pushImage(host, repo, 'twice-signed');
    const s1 = (await pushReferrer(host, repo, image, 'first')).desc;
    const s2 = (await pushReferrer(host, repo, image, 'second')).desc;
    const tag = schemaTag(image.digest);
    const before = (await mustPutManifest(host, repo, indexManifest([s1, s2], { annotations: { keep: 'me' } }), tag))
      .desc;

    expect((await call(host, 'DELETE', `/v2/${repo}/manifests/${s1.digest}`)).status).toBe(202);
    const now = await call(host, 'GET', `/v2/${repo}/manifests/${tag}`, {
      headers: { accept: 'application/vnd.oci.image.index.v1+json' },
    });
    expect(now.status).toBe(200);
    const rewritten = JSON.parse(now.body.toString()) as { manifests: Desc[]; annotations: Record<string, string> };
    expect(rewritten.manifests.map((d) => d.digest)).toEqual([s2.digest]);
    expect(rewritten.annotations).toEqual({ keep: 'me' });
    expect(now.headers['docker-content-digest']).not.toBe(before.digest);
    // the old version of the index is gone (it listed the deleted signature)
    expect((await call(host, 'GET', `/v2/${repo}/manifests/${before.digest}`)).status).toBe(404);
    expect((await call(host, 'GET', `/v2/${repo}/manifests/${image.digest}`)).status).toBe(200);
    expect(await referrersOf(host, repo, image.digest)).toEqual([s2.digest]);
    await expectClean(srv.root);

    expect((await call(host, 'DELETE', `/v2/${repo}/manifests/${s2.digest}`)).status).toBe(202);
    expect((await call(host, 'GET', `/v2/${repo}/manifests/${tag}`)).status).toBe(404);
    expect(await referrersOf(host, repo, image.digest)).toEqual([]);
    await expectClean(srv.root);
  });

  it('a referrer some other index lists stops the whole cascade: nothing is deleted', async () => {
    const image = await pushImage(host, repo, 'pinned');
    const sig = (await pushReferrer(host, repo, image, 'pinned')).desc;
    const bundle = (await mustPutManifest(host, repo, indexManifest([sig]), 'bundle')).desc;
    const refused = await call(host, 'DELETE', `/v2/${repo}/manifests/${image.digest}`);
    expect(refused.status).toBe(409);
    expect(refused.error?.code).toBe('DENIED');
    expect(refused.error?.message).toBe(
      `manifest ${sig.digest} (a referrer of ${image.digest}) is listed by index ${bundle.digest} in repository ${repo}: delete the index first`
    );
    expect((await call(host, 'GET', `/v2/${repo}/manifests/${image.digest}`)).status).toBe(200);
    expect((await call(host, 'GET', `/v2/${repo}/manifests/${sig.digest}`)).status).toBe(200);
    await expectClean(srv.root);
  });

  it('a store written before the reverse links (or a crash between writes) is repaired when the server starts', async () => {
    const root = join(work, 'old');
    const old = await startServe({ root });
    const a = await pushImage(old.host, 'legacy/app', 'a');
    const index = (await mustPutManifest(old.host, 'legacy/app', indexManifest([a]), 'v1')).desc;
    await closeConnections();
    await old.close();
    // what an older signet left: no reverse links at all, no marker
    const manifests = join(root, 'repositories', 'legacy', 'app', '_manifests');
    await rm(join(manifests, 'parents'), { recursive: true, force: true });
    await rm(join(manifests, 'users'), { recursive: true, force: true });
    await unlink(join(root, '.reverse-links-v1'));
    const reopened = await startServe({ root });
    try {
      const refused = await call(reopened.host, 'DELETE', `/v2/legacy/app/manifests/${a.digest}`);
      expect(refused.status).toBe(409);
      expect(refused.error?.message).toContain(`is listed by index ${index.digest}`);
    } finally {
      await closeConnections();
      await reopened.close();
    }
    await expectClean(root);

    // a link a crash left between writing it and the index it names
    const ghost = `sha256:${'e'.repeat(64)}`;
    const linkDir = join(manifests, 'parents', a.digest.replace(':', '-'));
    await writeFile(join(linkDir, ghost.replace(':', '-')), ghost);
    const report = await fsck(root);
    expect(report.dangling).toEqual([
      `legacy/app: reverse link _manifests/parents/${a.digest.replace(':', '-')}/${ghost.replace(':', '-')} names missing manifest ${ghost}`,
    ]);
    // the refusal checks ignore it, and the next start removes it
    expect(await new RegistryStorage(root).indexesListing('legacy/app', a.digest)).toEqual([index.digest]);
    const again = await startServe({ root });
    await closeConnections();
    await again.close();
    expect(await readdir(linkDir)).toEqual([index.digest.replace(':', '-')]);
    await expectClean(root);
  });
});
