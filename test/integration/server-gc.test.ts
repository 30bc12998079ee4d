import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fsck, gc, RegistryStorage, startMaintenance, startRegistry } from '../../src/server/index.ts';
import { runSignet, startServe, type Served } from '../helpers/serve.ts';
import {
  call,
  closeConnections,
  EMPTY_CONFIG,
  imageManifest,
  mustPutManifest,
  pushBlob,
  sha,
  type Desc,
} from '../helpers/registry-http.ts';

const HOUR = 3600_000;

async function expectClean(root: string): Promise<void> {
  const report = await fsck(root);
  expect(report.corrupt).toEqual([]);
  expect(report.dangling).toEqual([]);
}

/** Moves the mtime of every file under `dir` back by `ms` (as if written that long ago). */
async function age(dir: string, ms: number): Promise<void> {
  const t = new Date(Date.now() - ms);
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true }))
    if (e.isFile()) await utimes(join(e.parentPath, e.name), t, t);
}

const blobFile = (root: string, digest: string): string => join(root, 'blobs', ...digest.split(':'));
const exists = (p: string): Promise<boolean> =>
  stat(p).then(
    () => true,
    () => false
  );

async function bareUploads(host: string, repo: string, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i += 50) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(50, n - i) }, () => call(host, 'POST', `/v2/${repo}/blobs/uploads/`))
    );
    for (const r of batch) {
      expect(r.status).toBe(202);
      out.push(String(r.headers['docker-upload-uuid']));
    }
  }
  return out;
}

describe('signet serve gc: what goes and what stays', () => {
  let work: string;
  let srv: Served;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'signet-gc-'));
    srv = await startServe({ root: join(work, 'store') });
  });
  afterAll(async () => {
    await closeConnections();
    await srv?.close();
    await rm(work, { recursive: true, force: true });
  });

  it('removes unreferenced blobs past the grace period, expired uploads, old temp files and stale links; keeps the rest', async () => {
    const { host, root } = srv;
    const shared = Buffer.from('a layer two repositories have');
    const kept = await pushBlob(host, 'gc/a', shared);
    await pushBlob(host, 'gc/b', shared);
    const keptImage = await mustPutManifest(host, 'gc/a', imageManifest(EMPTY_CONFIG, [kept]), 'v1');
    // an image deleted through the API: its manifest and its own layer become unreferenced
    const doomedLayer = await pushBlob(host, 'gc/a', randomBytes(4096));
    const doomed = (await mustPutManifest(host, 'gc/a', imageManifest(EMPTY_CONFIG, [doomedLayer]))).desc;
    expect((await call(host, 'DELETE', `/v2/gc/a/manifests/${doomed.digest}`)).status).toBe(202);
    expect((await call(host, 'DELETE', `/v2/gc/a/blobs/${doomedLayer.digest}`)).status).toBe(202);
    // a blob unlinked in one repository but linked in another stays
    expect((await call(host, 'DELETE', `/v2/gc/b/blobs/${kept.digest}`)).status).toBe(202);
    // an abandoned upload, a temp file of an interrupted write, a link a crash left behind
    const [oldUpload, youngUpload] = await bareUploads(host, 'gc/a', 2);
    const state = join(root, 'uploads', oldUpload!, 'state.json');
    const s = JSON.parse(await readFile(state, 'utf8')) as { created: string };
    s.created = new Date(Date.now() - 2 * 24 * HOUR).toISOString();
    await writeFile(state, JSON.stringify(s));
    await writeFile(join(root, 'blobs', 'sha256', '.tmp-interrupted-0123'), randomBytes(100));
    const ghost = `sha256-${'f'.repeat(64)}`;
    const staleLink = join(root, 'repositories', 'gc', 'a', '_manifests', 'users', 'sha256-' + '1'.repeat(64), ghost);
    await mkdir(dirname(staleLink), { recursive: true });
    await writeFile(staleLink, ghost.replace('-', ':'));

    // everything is young: nothing goes but the expired upload
    const young = await gc(root, { dryRun: true });
    expect(young.blobs.count).toBe(0);
    expect(young.youngBlobs).toBe(2);
    expect(young.uploads.count).toBe(1);

    await age(join(root, 'blobs'), 2 * HOUR);
    await age(join(root, 'repositories'), 2 * HOUR);
    const dry = await gc(root, { dryRun: true });
    expect(dry.dryRun).toBe(true);
    expect(dry.blobs.digests.sort()).toEqual([doomed.digest, doomedLayer.digest].sort());
    expect(dry.blobs.bytes).toBe(doomed.size + doomedLayer.size);
    expect(dry.tempFiles.count).toBe(1);
    expect(dry.staleLinks.count).toBe(1);
    expect(await exists(blobFile(root, doomedLayer.digest))).toBe(true);
    expect(await exists(join(root, 'uploads', oldUpload!))).toBe(true);

    const done = await gc(root);
    expect(done.blobs.digests.sort()).toEqual(dry.blobs.digests);
    expect(done.uploads).toEqual(dry.uploads);
    expect(done.tempFiles.count).toBe(1);
    expect(done.staleLinks.count).toBe(1);
    expect(await exists(blobFile(root, doomedLayer.digest))).toBe(false);
    expect(await exists(blobFile(root, doomed.digest))).toBe(false);
    expect(await exists(join(root, 'uploads', oldUpload!))).toBe(false);
    expect(await exists(join(root, 'uploads', youngUpload!))).toBe(true);
    expect(await exists(staleLink)).toBe(false);
    expect(await exists(join(root, 'blobs', 'sha256', '.tmp-interrupted-0123'))).toBe(false);

    // what is referenced is untouched and still served
    const m = await call(host, 'GET', '/v2/gc/a/manifests/v1', { headers: { accept: keptImage.desc.mediaType } });
    expect(m.status).toBe(200);
    expect(m.body.equals(keptImage.bytes)).toBe(true);
    const b = await call(host, 'GET', `/v2/gc/a/blobs/${kept.digest}`);
    expect(sha(b.body)).toBe(kept.digest);
    expect((await gc(root)).blobs.count).toBe(0);
    await expectClean(root);

    // a blob pushed again after gc removed it is stored anew
    const back = await pushBlob(host, 'gc/a', (await call(host, 'GET', `/v2/gc/a/blobs/${kept.digest}`)).body);
    expect(back.digest).toBe(kept.digest);
    expect(await pushBlob(host, 'gc/c', Buffer.from(dry.blobs.digests[0]!))).toBeTruthy();
  });

  it('a missing store is a usage error, not an empty store', async () => {
    await expect(gc(join(work, 'nope'))).rejects.toMatchObject({ code: 'STORE_MISSING' });
  });
});

describe('upload sessions expire while the server runs', () => {
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'signet-uploads-'));
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('500 bare POSTs: kept while young, unknown once past the TTL (before any sweep), then swept', async () => {
    const root = join(work, 'young');
    const srv = await startServe({ root }); // default TTL: 24 h
    try {
      const uuids = await bareUploads(srv.host, 'team/app', 500);
      expect(new Set(uuids).size).toBe(500);
      const sweeper = startMaintenance(new RegistryStorage(root), { uploadTtlMs: 24 * HOUR });
      try {
        expect(await sweeper.sweep()).toEqual({ count: 0, bytes: 0 });
        expect(await readdir(join(root, 'uploads'))).toHaveLength(500);
        expect((await call(srv.host, 'GET', `/v2/team/app/blobs/uploads/${uuids[0]}`)).status).toBe(204);

        // 25 hours later (as far as state.json says)
        const past = new Date(Date.now() - 25 * HOUR).toISOString();
        for (const u of uuids) {
          const p = join(root, 'uploads', u, 'state.json');
          await writeFile(p, JSON.stringify({ ...JSON.parse(await readFile(p, 'utf8')), created: past }));
        }
        for (const u of uuids.slice(0, 20)) {
          const r = await call(srv.host, 'GET', `/v2/team/app/blobs/uploads/${u}`);
          expect(r.status).toBe(404);
          expect(r.error?.code).toBe('BLOB_UPLOAD_UNKNOWN');
          const p = await call(srv.host, 'PATCH', `/v2/team/app/blobs/uploads/${u}`, { body: 'late' });
          expect(p.error?.code).toBe('BLOB_UPLOAD_UNKNOWN');
        }
        expect(await readdir(join(root, 'uploads'))).toHaveLength(500); // not swept yet: still refused
        expect(await sweeper.sweep()).toMatchObject({ count: 500 });
        expect(await readdir(join(root, 'uploads'))).toEqual([]);
      } finally {
        sweeper.stop();
      }
      await expectClean(root);
    } finally {
      await closeConnections();
      await srv.close();
    }
  });

  it('the server sweeps on its own: with a short TTL 500 bare POSTs leave no directory behind', async () => {
    const root = join(work, 'short');
    const reg = await startRegistry({ root, addr: '127.0.0.1:0', uploadTtlMs: 1500 });
    try {
      await bareUploads(reg.host, 'team/app', 500);
      // a push still completes normally in between
      const blob = await pushBlob(reg.host, 'team/app', Buffer.from('after the burst'));
      const deadline = Date.now() + 30_000;
      while ((await readdir(join(root, 'uploads'))).length && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 100));
      expect(await readdir(join(root, 'uploads'))).toEqual([]);
      expect((await call(reg.host, 'GET', `/v2/team/app/blobs/${blob.digest}`)).status).toBe(200);
    } finally {
      await closeConnections();
      await reg.close();
    }
    await expectClean(root);
  });
});

interface Pushed {
  repo: string;
  tag: string;
  manifest: Buffer;
  desc: Desc;
  blobs: Array<{ desc: Desc; bytes: Buffer }>;
}

/** Blob by POST + PUT (half of them in a PATCH chunk first), like a registry client. */
async function upload(host: string, repo: string, bytes: Buffer, chunked: boolean): Promise<Desc> {
  const start = await call(host, 'POST', `/v2/${repo}/blobs/uploads/`);
  if (start.status !== 202) throw new Error(`POST ${start.status}`);
  let loc = new URL(String(start.headers.location), `http://${host}`);
  let rest = bytes;
  if (chunked && bytes.length > 1) {
    const half = bytes.length >> 1;
    const p = await call(host, 'PATCH', loc.pathname, {
      body: bytes.subarray(0, half),
      headers: { 'content-range': `0-${half - 1}` },
    });
    if (p.status !== 202) throw new Error(`PATCH ${p.status}`);
    loc = new URL(String(p.headers.location), `http://${host}`);
    rest = bytes.subarray(half);
  }
  const put = await call(host, 'PUT', `${loc.pathname}?digest=${sha(bytes)}`, { body: rest });
  if (put.status !== 201) throw new Error(`PUT ${put.status} ${put.body.toString()}`);
  return { mediaType: 'application/octet-stream', digest: sha(bytes), size: bytes.length };
}

describe('gc beside 8 clients pushing', () => {
  it('every acknowledged push stays whole and pullable, and fsck is clean', async () => {
    const root = await mkdtemp(join(tmpdir(), 'signet-gc-online-'));
    const reg = await startRegistry({ root, addr: '127.0.0.1:0' });
    const host = reg.host;
    // Grace 2 s, not 0: between a blob's commit (or touch) and its _layers link, and between an
    // upload's last chunk and its final PUT, the blob is referenced by nothing yet. The grace
    // period is what keeps such a blob; 2 s is far more than those steps take, and short enough
    // that blobs of images the clients delete are collected while the pushes go on.
    const GRACE = 2000;
    const ATTIC = 8;
    const kept: Pushed[] = [];
    let removed = 0;
    let gcRuns = 0;
    let stop = false;
    // The first images of each client were pushed and deleted an hour ago (as their mtimes say):
    // their blobs and manifests are unreferenced and old, so gc removes them, while the clients
    // push the very same content again. A re-push must touch or re-create what gc is judging.
    const imageFor = (c: number, i: number, pool: Buffer[]): { config: Buffer; layers: Buffer[] } => ({
      config: Buffer.from(JSON.stringify({ client: c, image: i })),
      layers:
        i < ATTIC
          ? [Buffer.from(`client ${c} attic layer ${i} `.repeat(40 + i))]
          : [randomBytes(1024 + ((i * 7919 + c * 104729) % (64 * 1024))), pool[i % 3]!],
    });
    const pushImage = async (repo: string, c: number, i: number, pool: Buffer[], tag?: string): Promise<Pushed> => {
      const { config, layers } = imageFor(c, i, pool);
      const blobs: Pushed['blobs'] = [];
      const cfg = await upload(host, repo, config, false);
      blobs.push({ desc: { ...cfg, mediaType: 'application/vnd.oci.image.config.v1+json' }, bytes: config });
      for (const [k, l] of layers.entries())
        blobs.push({ desc: await upload(host, repo, l, (i + k) % 2 === 0), bytes: l });
      const manifest = imageManifest(
        blobs[0]!.desc,
        blobs.slice(1).map((b) => b.desc)
      );
      const m = await mustPutManifest(host, repo, manifest, tag);
      return { repo, tag: tag ?? '', manifest: m.bytes, desc: m.desc, blobs };
    };
    const remove = async (p: Pushed): Promise<void> => {
      expect((await call(host, 'DELETE', `/v2/${p.repo}/manifests/${p.desc.digest}`)).status).toBe(202);
      for (const b of p.blobs) {
        const r = await call(host, 'DELETE', `/v2/${p.repo}/blobs/${b.desc.digest}`);
        // a pool layer a kept image still uses is refused; the rest go
        expect([202, 409]).toContain(r.status);
      }
    };
    try {
      const pools = Array.from({ length: 8 }, (_, c) =>
        Array.from({ length: 3 }, (_, k) => Buffer.from(`client ${c} common layer ${k} `.repeat(50)))
      );
      await Promise.all(
        pools.map(async (pool, c) => {
          for (let i = 0; i < ATTIC; i++) await remove(await pushImage(`online/client${c}`, c, i, pool));
        })
      );
      await age(join(root, 'blobs'), HOUR);

      const gcLoop = (async () => {
        while (!stop) {
          removed += (await gc(root, { graceMs: GRACE })).blobs.count;
          gcRuns++;
          await new Promise((r) => setTimeout(r, 5));
        }
      })();
      const end = Date.now() + 4000;
      const clients = Array.from({ length: 8 }, async (_, c) => {
        const repo = `online/client${c}`;
        const mine: Pushed[] = [];
        for (let i = 0; i < ATTIC || Date.now() < end; i++) {
          mine.push(await pushImage(repo, c, i, pools[c]!, `t${i}`));
          // every third image, the one before goes: garbage for gc while the others push
          if (i % 3 === 2) await remove(mine.splice(mine.length - 2, 1)[0]!);
        }
        kept.push(...mine);
      });
      await Promise.all(clients);
      // one more pass after the grace period: the last deleted blobs are old enough now
      await new Promise((r) => setTimeout(r, GRACE + 100));
      stop = true;
      await gcLoop;
      removed += (await gc(root, { graceMs: GRACE })).blobs.count;
      expect(gcRuns).toBeGreaterThan(1);
      expect(removed).toBeGreaterThan(0);
      expect(kept.length).toBeGreaterThanOrEqual(8);

      for (const p of kept) {
        for (const ref of [p.tag, p.desc.digest]) {
          const m = await call(host, 'GET', `/v2/${p.repo}/manifests/${ref}`, {
            headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
          });
          expect(m.status, `${p.repo}:${ref}`).toBe(200);
          expect(m.body.equals(p.manifest)).toBe(true);
        }
        for (const b of p.blobs) {
          const r = await call(host, 'GET', `/v2/${p.repo}/blobs/${b.desc.digest}`);
          expect(r.status, `${p.repo} ${b.desc.digest}`).toBe(200);
          expect(sha(r.body)).toBe(b.desc.digest);
        }
      }
      await expectClean(root);
    } finally {
      stop = true;
      await closeConnections();
      await reg.close();
      await rm(root, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('signet serve gc (the command)', () => {
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'signet-gc-cli-'));
    const reg = await startRegistry({ root: join(work, 'store'), addr: '127.0.0.1:0' });
    const layer = await pushBlob(reg.host, 'cli/app', Buffer.from('cli layer'));
    const image = (await mustPutManifest(reg.host, 'cli/app', imageManifest(EMPTY_CONFIG, [layer]))).desc;
    expect((await call(reg.host, 'DELETE', `/v2/cli/app/manifests/${image.digest}`)).status).toBe(202);
    await closeConnections();
    await reg.close();
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('--help teaches every flag with examples', async () => {
    const r = await runSignet(['serve', 'gc', '--help']);
    expect(r.code).toBe(0);
    for (const flag of ['--root', '--grace', '--upload-ttl', '--dry-run', '--output']) expect(r.stdout).toContain(flag);
    expect(r.stdout).toContain('Examples:');
    expect(r.stdout).toMatch(/signet serve gc --root \S+ --dry-run/);
    expect(r.stdout).toMatch(/signet serve gc --root \S+ --grace 15m --upload-ttl 2d/);
  });

  it('prints what it removed, in text and JSON; --dry-run removes nothing', async () => {
    const root = join(work, 'store');
    const young = await runSignet(['serve', 'gc', '--root', root]);
    expect(young.code).toBe(0);
    expect(young.stdout).toContain('removed 0 unreferenced blobs (0 B)');
    expect(young.stdout).toContain('kept 1 unreferenced blobs younger than the grace period');

    const dry = await runSignet(['serve', 'gc', '--root', root, '--grace', '0', '--dry-run', '-o', 'json']);
    expect(dry.code).toBe(0);
    const report = JSON.parse(dry.stdout) as { dryRun: boolean; blobs: { count: number; digests: string[] } };
    expect(report.dryRun).toBe(true);
    expect(report.blobs.count).toBe(1);
    expect(await exists(blobFile(root, report.blobs.digests[0]!))).toBe(true);

    const text = await runSignet(['serve', 'gc', '--root', root, '--grace', '0s', '--upload-ttl', '2d']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^removed 1 unreferenced blobs \(\d+ B\)$/m);
    expect(text.stdout).toContain(`removed: ${report.blobs.digests[0]}`);
    expect(await exists(blobFile(root, report.blobs.digests[0]!))).toBe(false);
    await expectClean(root);
  });

  it('exit 2 for a bad duration, a bad format or a missing store', async () => {
    const root = join(work, 'store');
    const bad = await runSignet(['serve', 'gc', '--root', root, '--grace', '1 hour']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('invalid duration');
    expect((await runSignet(['serve', 'gc', '--root', root, '-o', 'yaml'])).code).toBe(2);
    expect((await runSignet(['serve', 'gc', '--root', join(work, 'missing')])).code).toBe(2);
    expect((await runSignet(['serve', 'gc'])).code).toBe(2);
  });
});
