import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { discover, type ReferrerNode } from '../../src/copy/index.ts';
import { openTarget, RegistryTarget } from '../../src/store/index.ts';
import { pushGraph } from '../helpers/artifacts.ts';
import { startDistribution } from '../helpers/distribution.ts';
import { runSignet, startServe, type Served } from '../helpers/serve.ts';

/** The graph as a comparable shape: digest → sorted child digests, recursively. */
function shape(n: ReferrerNode): unknown {
  return {
    d: n.digest,
    t: n.artifactType ?? null,
    r: n.referrers.map(shape).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
  };
}

async function graphAt(ref: string): Promise<unknown> {
  const { target, reference } = await openTarget(ref);
  try {
    const root = await target.resolve(reference!);
    return shape(await discover(target, root));
  } finally {
    await target.close();
  }
}

describe('signet copy carries the referrers graph across signet serve, distribution 2.8.2, a layout dir and a tar', () => {
  let serve: Served;
  let dist: { host: string; close(): Promise<void> };
  let work: string;
  let expected: unknown;
  let rootDigest: string;

  beforeAll(async () => {
    serve = await startServe();
    dist = await startDistribution();
    work = await mkdtemp(join(tmpdir(), 'signet-copy-'));
    const t = new RegistryTarget({ registry: serve.host, repository: 'src/app' });
    const g = await pushGraph(t);
    await t.close();
    rootDigest = g.root.digest;
    expected = await graphAt(`${serve.host}/src/app:v1`);
    // two referrers on the root, one of them with its own referrer
    expect((expected as { r: Array<{ r: unknown[] }> }).r).toHaveLength(2);
    expect((expected as { r: Array<{ r: unknown[] }> }).r.map((x) => x.r.length).sort()).toEqual([0, 1]);
  });

  afterAll(async () => {
    await serve?.close();
    await dist?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('signet serve → distribution (referrers tag schema)', async () => {
    const r = await runSignet(['copy', `${serve.host}/src/app:v1`, `${dist.host}/mirror/app:v1`]);
    expect(r.stderr + r.stdout).toContain('Copied');
    expect(r.code).toBe(0);
    expect(await graphAt(`${dist.host}/mirror/app:v1`)).toEqual(expected);
    // distribution has no referrers API: the graph lives in the sha256-<hex> index tags
    const tags = (await (await fetch(`http://${dist.host}/v2/mirror/app/tags/list`)).json()) as { tags: string[] };
    expect(tags.tags).toContain(`sha256-${rootDigest.slice(7)}`);
    expect((await fetch(`http://${dist.host}/v2/mirror/app/referrers/${rootDigest}`)).status).toBe(404);
  });

  it('distribution → signet serve (referrers API)', async () => {
    const r = await runSignet(['copy', `${dist.host}/mirror/app:v1`, `${serve.host}/back/app:v1`, '-o', 'json']);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as { root: { digest: string }; referrers: number };
    expect(report.root.digest).toBe(rootDigest);
    expect(report.referrers).toBe(3);
    expect(await graphAt(`${serve.host}/back/app:v1`)).toEqual(expected);
    const api = (await (await fetch(`http://${serve.host}/v2/back/app/referrers/${rootDigest}`)).json()) as {
      manifests: unknown[];
    };
    expect(api.manifests).toHaveLength(2);
  });

  it('signet serve → OCI layout dir → tar → signet serve', async () => {
    const dir = join(work, 'layout');
    const tar = join(work, 'app.tar');
    expect((await runSignet(['copy', `${serve.host}/back/app:v1`, `oci:${dir}:v1`])).code).toBe(0);
    expect(await graphAt(`oci:${dir}:v1`)).toEqual(expected);
    expect((await runSignet(['copy', `oci:${dir}:v1`, `oci:${tar}:v1`])).code).toBe(0);
    expect(await graphAt(`oci:${tar}:v1`)).toEqual(expected);
    const listing = execFileSync('tar', ['-tf', tar], { encoding: 'utf8' });
    expect(listing.split('\n').slice(0, 2)).toEqual(['oci-layout', 'index.json']);
    expect((await runSignet(['copy', `oci:${tar}:v1`, `${serve.host}/final/app:v2`])).code).toBe(0);
    expect(await graphAt(`${serve.host}/final/app:v2`)).toEqual(expected);
  });

  it('a second copy finds everything already there', async () => {
    const r = await runSignet(['copy', `${serve.host}/src/app:v1`, `${dist.host}/mirror/app:v1`, '-o', 'json']);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as { copied: number; skipped: number };
    expect(report.copied).toBe(0);
    expect(report.skipped).toBeGreaterThan(0);
  });

  it('mounts blobs across repositories of one registry instead of moving them', async () => {
    const r = await runSignet(['copy', `${serve.host}/src/app:v1`, `${serve.host}/other/app:v1`, '-o', 'json']);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as { mounted: number; copiedBytes: number };
    expect(report.mounted).toBeGreaterThan(0);
    expect(await graphAt(`${serve.host}/other/app:v1`)).toEqual(expected);
  });
});
