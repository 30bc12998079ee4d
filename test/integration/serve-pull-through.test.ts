import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import bcrypt from 'bcryptjs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MediaType } from '../../src/oci/index.ts';
import type { KeyStore } from '../../src/pki/index.ts';
import { startPullThrough, type RunningRegistry } from '../../src/server/index.ts';
import { sign } from '../../src/sign/index.ts';
import { staticCredentials } from '../../src/store/index.ts';
import { startDistribution } from '../helpers/distribution.ts';
import { buildImage, skopeo } from '../helpers/images.ts';
import { trustSetup } from '../helpers/trust.ts';

describe('signet serve --upstream: verifying pull-through in front of docker-registry', () => {
  let work: string;
  let keys: KeyStore;
  let image: string;
  let upstream: { host: string; close(): Promise<void> };
  let a: RunningRegistry;
  let b: RunningRegistry;
  let ro: RunningRegistry;
  let n = 0;
  const pull = (host: string, ref: string) =>
    skopeo(['copy', '--src-tls-verify=false', `docker://${host}/${ref}`, `oci:${join(work, `out-${++n}`)}:x`]);

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'signet-proxy-'));
    const setup = await trustSetup(work);
    keys = setup.keys;
    image = await buildImage(work);
    upstream = await startDistribution();
    const policy = { trustPolicy: setup.policy, trustStore: setup.store };
    const options = { addr: '127.0.0.1:0', upstream: `http://${upstream.host}`, policy };
    // Two instances that share nothing but the upstream, and a read-only one.
    a = await startPullThrough(options);
    b = await startPullThrough(options);
    ro = await startPullThrough({ ...options, readOnly: true });
  }, 120_000);
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close(), ro?.close()]);
    await upstream?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('forwards a push, denies the unsigned image through both instances, serves it once signed upstream', async () => {
    const pushed = await skopeo([
      'copy',
      '--dest-tls-verify=false',
      `oci:${image}:v1`,
      `docker://${a.host}/team/app:v1`,
    ]);
    expect(pushed.ok, pushed.out).toBe(true);
    // The push landed upstream: the proxy stores nothing.
    const head = await fetch(`http://${upstream.host}/v2/team/app/manifests/v1`, {
      method: 'HEAD',
      headers: { accept: MediaType.ImageManifest },
    });
    expect(head.status).toBe(200);
    const digest = head.headers.get('docker-content-digest')!;

    for (const proxy of [a, b]) {
      const r = await pull(proxy.host, 'team/app:v1');
      expect(r.ok).toBe(false);
      expect(r.out).toMatch(/denied.*not verified: /is);
    }
    // Signed straight at the upstream (no referrers API there: the tag schema), behind the proxies' backs.
    await sign(`${upstream.host}/team/app:v1`, { keyStore: keys });
    for (const proxy of [a, b]) {
      const r = await pull(proxy.host, 'team/app:v1');
      expect(r.ok, r.out).toBe(true);
      const byDigest = await fetch(`http://${proxy.host}/v2/team/app/manifests/${digest}`, {
        headers: { accept: MediaType.ImageManifest },
      });
      expect(byDigest.status).toBe(200);
      expect(byDigest.headers.get('signet-verdict')).toBe('verified');
    }
  }, 120_000);

  it('answers the referrers API from the upstream tag schema', async () => {
    const head = await fetch(`http://${upstream.host}/v2/team/app/manifests/v1`, {
      method: 'HEAD',
      headers: { accept: MediaType.ImageManifest },
    });
    const digest = head.headers.get('docker-content-digest')!;
    expect((await fetch(`http://${upstream.host}/v2/team/app/referrers/${digest}`)).status).toBe(404);
    const r = await fetch(`http://${b.host}/v2/team/app/referrers/${digest}`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe(MediaType.ImageIndex);
    const idx = (await r.json()) as { manifests: Array<{ artifactType?: string }> };
    expect(idx.manifests).toHaveLength(1);
    expect(idx.manifests[0]!.artifactType).toBe('application/vnd.cncf.notary.signature');
  });

  it('a read-only instance refuses writes and still enforces reads', async () => {
    const r = await skopeo(['copy', '--dest-tls-verify=false', `oci:${image}:v1`, `docker://${ro.host}/team/other:v1`]);
    expect(r.ok).toBe(false);
    expect(r.out).toMatch(/read-only/);
    const unsigned = await skopeo([
      'copy',
      '--dest-tls-verify=false',
      `oci:${image}:v1`,
      `docker://${upstream.host}/team/unsigned:v1`,
    ]);
    expect(unsigned.ok, unsigned.out).toBe(true);
    expect((await pull(ro.host, 'team/unsigned:v1')).ok).toBe(false);
    expect((await pull(ro.host, 'team/app:v1')).ok).toBe(true);
  }, 60_000);
});

describe('signet serve --upstream --upstream-creds: an upstream that wants a password', () => {
  it('reads and verifies through the upstream credentials; without them the upstream refuses', async () => {
    const work = await mkdtemp(join(tmpdir(), 'signet-proxy-auth-'));
    const upstream = await startDistribution({ htpasswd: `ci:${bcrypt.hashSync('ci-pw', 4)}\n` });
    const setup = await trustSetup(work);
    const policy = { trustPolicy: setup.policy, trustStore: setup.store };
    const options = { addr: '127.0.0.1:0', upstream: `http://${upstream.host}`, policy };
    const withCreds = await startPullThrough({
      ...options,
      upstreamCredentials: { username: 'ci', password: 'ci-pw' },
    });
    const without = await startPullThrough(options);
    try {
      const image = await buildImage(work);
      const pushed = await skopeo([
        'copy',
        '--dest-tls-verify=false',
        '--dest-creds',
        'ci:ci-pw',
        `oci:${image}:v1`,
        `docker://${upstream.host}/team/app:v1`,
      ]);
      expect(pushed.ok, pushed.out).toBe(true);
      await sign(`${upstream.host}/team/app:v1`, {
        keyStore: setup.keys,
        open: { credentials: staticCredentials({ username: 'ci', password: 'ci-pw' }) },
      });
      const pull = (host: string) =>
        skopeo(['copy', '--src-tls-verify=false', `docker://${host}/team/app:v1`, `oci:${join(work, host)}:x`]);
      const ok = await pull(withCreds.host);
      expect(ok.ok, ok.out).toBe(true);
      const refused = await pull(without.host);
      expect(refused.ok).toBe(false);
      // A gateway problem (502), not a 401 that would send the client after credentials of its own.
      expect(refused.out).toMatch(/502 Bad Gateway/);
      const r = await fetch(`http://${without.host}/v2/team/app/manifests/v1`);
      expect(r.status).toBe(502);
      expect(r.headers.get('www-authenticate')).toBeNull();
      expect(await r.text()).toMatch(/wants credentials this proxy does not have \(--upstream-creds\)/);
    } finally {
      await withCreds.close();
      await without.close();
      await upstream.close();
      await rm(work, { recursive: true, force: true });
    }
  }, 120_000);
});
