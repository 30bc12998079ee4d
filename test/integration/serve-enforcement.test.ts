import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { copy } from '../../src/copy/index.ts';
import { MediaType } from '../../src/oci/index.ts';
import { KeyStore } from '../../src/pki/index.ts';
import { startRegistry, type RunningRegistry } from '../../src/server/index.ts';
import { sign } from '../../src/sign/index.ts';
import { buildImage, skopeo } from '../helpers/images.ts';
import { trustSetup } from '../helpers/trust.ts';

const VECTORS = join(import.meta.dirname, '../fixtures/notary');

/** skopeo copy from the registry into a fresh layout: what `docker pull` users do. */
async function pull(host: string, ref: string, dir: string, all = false) {
  return skopeo([
    'copy',
    ...(all ? ['--all'] : []),
    '--src-tls-verify=false',
    `docker://${host}/${ref}`,
    `oci:${dir}:x`,
  ]);
}

async function push(layout: string, host: string, ref: string) {
  const r = await skopeo(['copy', '--dest-tls-verify=false', `oci:${layout}:v1`, `docker://${host}/${ref}`]);
  expect(r.ok, r.out).toBe(true);
}

async function digestOf(host: string, ref: string): Promise<{ digest: string; size: number; mediaType: string }> {
  const [repo, tag] = ref.split(':') as [string, string];
  const r = await fetch(`http://${host}/v2/${repo}/manifests/${tag}`, {
    method: 'HEAD',
    headers: { accept: `${MediaType.ImageManifest}, ${MediaType.ImageIndex}` },
  });
  expect(r.status).toBe(200);
  return {
    digest: r.headers.get('docker-content-digest')!,
    size: Number(r.headers.get('content-length')),
    mediaType: r.headers.get('content-type')!,
  };
}

describe('signet serve --policy: a registry that enforces verification', () => {
  let work: string;
  let keys: KeyStore;
  let mallory: KeyStore;
  let image: string;
  let image2: string;
  let reg: RunningRegistry;
  let n = 0;
  const out = (): string => join(work, `pulled-${++n}`);

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'signet-enforce-'));
    const setup = await trustSetup(work);
    keys = setup.keys;
    // The vectors' trust store (notation-made signatures) beside ours, under one policy.
    const store = setup.store;
    await cp(join(VECTORS, 'truststore', 'x509', 'ca'), join(store, 'x509', 'ca'), { recursive: true });
    const policy = JSON.parse(await readFile(setup.policy, 'utf8')) as {
      trustPolicies: Array<{ trustStores: string[] }>;
    };
    policy.trustPolicies[0]!.trustStores.push('ca:e2e');
    await writeFile(setup.policy, JSON.stringify(policy));
    mallory = new KeyStore(join(work, 'mallory'));
    await mallory.generate('m', { type: 'ecdsa-p256', subject: 'CN=Mallory,O=T,ST=WA,C=US', isDefault: true });
    await mkdir(join(work, 'a'));
    await mkdir(join(work, 'b'));
    image = await buildImage(join(work, 'a'), 'amd64');
    image2 = await buildImage(join(work, 'b'), 'arm64');
    reg = await startRegistry({
      addr: '127.0.0.1:0',
      root: join(work, 'root'),
      policy: { trustPolicy: setup.policy, trustStore: store },
    });
  }, 120_000);
  afterAll(async () => {
    await reg?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('denies an unsigned image with DENIED naming the check, serves it once signed, HEAD always answers', async () => {
    await push(image, reg.host, 'team/app:v1');
    const denied = await pull(reg.host, 'team/app:v1', out());
    expect(denied.ok).toBe(false);
    expect(denied.out).toMatch(/denied.*not verified: .*no .*signature/is);
    const head = await digestOf(reg.host, 'team/app:v1');
    const byDigest = await fetch(`http://${reg.host}/v2/team/app/manifests/${head.digest}`);
    expect(byDigest.status).toBe(403);
    const body = (await byDigest.json()) as { errors: Array<{ code: string; message: string }> };
    expect(body.errors[0]!.code).toBe('DENIED');

    await sign(`${reg.host}/team/app:v1`, { keyStore: keys });
    const ok = await pull(reg.host, 'team/app:v1', out());
    expect(ok.out).toContain('Writing manifest');
    expect(ok.ok).toBe(true);
  }, 60_000);

  it('a signature by an untrusted key leaves an image denied, with the authenticity check named', async () => {
    await push(image2, reg.host, 'team/evil:v1');
    await sign(`${reg.host}/team/evil:v1`, { keyStore: mallory });
    const r = await pull(reg.host, 'team/evil:v1', out());
    expect(r.ok).toBe(false);
    expect(r.out).toMatch(/not verified: authenticity: .*trust store/);
    // The signature itself (a referrer of an artifact here) stays readable: verifiers need it.
    const head = await digestOf(reg.host, 'team/evil:v1');
    const refs = (await (await fetch(`http://${reg.host}/v2/team/evil/referrers/${head.digest}`)).json()) as {
      manifests: Array<{ digest: string }>;
    };
    expect(refs.manifests).toHaveLength(1);
    expect((await fetch(`http://${reg.host}/v2/team/evil/manifests/${refs.manifests[0]!.digest}`)).status).toBe(200);
  }, 60_000);

  it('the same copy succeeds once a notation-made signature (vector e2e, its keys) is pushed beside the image', async () => {
    const layout = join(work, 'e2e-copy');
    await cp(join(VECTORS, 'oci-layout', 'e2e-valid-signature'), layout, { recursive: true });
    // The image alone first: denied.
    await copy(`oci:${layout}:v1`, `${reg.host}/team/notation:v1`, { referrers: false });
    const before = await pull(reg.host, 'team/notation:v1', out());
    expect(before.ok).toBe(false);
    expect(before.out).toMatch(/not verified: /);
    // Then the signature notation made, pushed by digest as a referrer (the registry has the API).
    await copy(`oci:${layout}:v1`, `${reg.host}/team/notation:v1`);
    const after = await pull(reg.host, 'team/notation:v1', out());
    expect(after.ok, after.out).toBe(true);
    const r = await fetch(`http://${reg.host}/v2/team/notation/manifests/v1`, {
      headers: { accept: MediaType.ImageManifest },
    });
    expect(r.headers.get('signet-verdict')).toBe('verified');
  }, 60_000);

  it('a multi-arch image signed at its index pulls for every platform', async () => {
    await push(image, reg.host, 'team/multi:amd64');
    await push(image2, reg.host, 'team/multi:arm64');
    const a = await digestOf(reg.host, 'team/multi:amd64');
    const b = await digestOf(reg.host, 'team/multi:arm64');
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.ImageIndex,
        manifests: [
          { ...a, platform: { architecture: 'amd64', os: 'linux' } },
          { ...b, platform: { architecture: 'arm64', os: 'linux' } },
        ],
      })
    );
    const put = await fetch(`http://${reg.host}/v2/team/multi/manifests/v1`, {
      method: 'PUT',
      headers: { 'content-type': MediaType.ImageIndex },
      body: index,
    });
    expect(put.status).toBe(201);
    expect((await pull(reg.host, 'team/multi:v1', out(), true)).ok).toBe(false);
    await sign(`${reg.host}/team/multi:v1`, { keyStore: keys });
    const all = await pull(reg.host, 'team/multi:v1', out(), true);
    expect(all.out).toMatch(/Copying 2 of 2 images in list/);
    expect(all.ok, all.out).toBe(true);
    // Each platform by digest, as a runtime asks after reading the index.
    for (const d of [a, b]) {
      const r = await fetch(`http://${reg.host}/v2/team/multi/manifests/${d.digest}`, {
        headers: { accept: MediaType.ImageManifest },
      });
      expect(r.status).toBe(200);
      expect(r.headers.get('signet-verdict')).toBe('verified-by-index');
    }
    // A platform's own tag names the same digest the verified index lists: the digest is what counts.
    expect((await pull(reg.host, 'team/multi:amd64', out())).ok).toBe(true);
  }, 120_000);

  it('a signature that expires flips the verdict without a restart (the cache honours the expiry)', async () => {
    await push(image2, reg.host, 'team/short:v1');
    await sign(`${reg.host}/team/short:v1`, { keyStore: keys, expirySeconds: 3 });
    const url = `http://${reg.host}/v2/team/short/manifests/v1`;
    const first = await fetch(url, { headers: { accept: MediaType.ImageManifest } });
    expect(first.status).toBe(200);
    const second = await fetch(url, { headers: { accept: MediaType.ImageManifest } });
    expect(second.status).toBe(200);
    await new Promise((r) => setTimeout(r, 3500));
    const after = await fetch(url, { headers: { accept: MediaType.ImageManifest } });
    expect(after.status).toBe(403);
    expect(((await after.json()) as { errors: Array<{ message: string }> }).errors[0]!.message).toMatch(
      /not verified: expiry: digital signature has expired/
    );
    const metrics = await (await fetch(`http://${reg.host}/metrics`)).text();
    expect(metrics).toMatch(/signet_verdict_cache_hits_total [1-9]/);
    expect(metrics).toMatch(/signet_verdicts_total\{outcome="failed"\} [1-9]/);
  }, 60_000);

  it('policy scopes match --public-name (or the listen address), never the Host header', async () => {
    const scoped = join(work, 'scoped.json');
    const doc = JSON.parse(await readFile(join(work, 'policy.json'), 'utf8')) as {
      trustPolicies: Array<Record<string, unknown>>;
    };
    doc.trustPolicies[0]!.registryScopes = ['registry.acme.io/team/app'];
    await writeFile(scoped, JSON.stringify(doc));
    const policy = { trustPolicy: scoped, trustStore: join(work, 'store') };
    const named = await startRegistry({
      addr: '127.0.0.1:0',
      root: join(work, 'root'),
      policy,
      publicName: 'registry.acme.io',
    });
    const unnamed = await startRegistry({ addr: '127.0.0.1:0', root: join(work, 'root'), policy });
    try {
      const get = (host: string, hostHeader?: string) =>
        new Promise<number>((resolve, reject) => {
          const [hostname, port] = host.split(':');
          const req = request(
            {
              hostname,
              port: Number(port),
              path: '/v2/team/app/manifests/v1',
              headers: { accept: MediaType.ImageManifest, ...(hostHeader ? { host: hostHeader } : {}) },
            },
            (res) => {
              res.resume();
              resolve(res.statusCode ?? 0);
            }
          );
          req.on('error', reject);
          req.end();
        });
      expect(await get(named.host)).toBe(200);
      expect(await get(unnamed.host)).toBe(403);
      // A client naming the registry in its Host header changes nothing.
      expect(await get(unnamed.host, 'registry.acme.io')).toBe(403);
    } finally {
      await named.close();
      await unnamed.close();
    }
  });
});
