import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { descriptorFor, encodeManifest, MediaType, type Descriptor } from '../../src/oci/index.ts';
import type { KeyStore } from '../../src/pki/index.ts';
import { sign } from '../../src/sign/index.ts';
import { RegistryTarget } from '../../src/store/index.ts';
import { verify } from '../../src/verify/index.ts';
import { pushArtifact } from '../helpers/artifacts.ts';
import { trustSetup } from '../helpers/trust.ts';
import { runSignet, startServe, type Served } from '../helpers/serve.ts';

/**
 * A loopback proxy in front of signet serve that answers the tag `v1` with a different index on
 * each request: first an unsigned index that lists the platform manifest, then the real, signed
 * index that does not. A verifier that resolves the tag twice (once for "the index lists it",
 * once to verify the index) accepts an unsigned manifest.
 */
function swappingProxy(
  upstream: string,
  repo: string,
  unsignedIndex: string
): Promise<{ host: string; tagRequests: () => number; close: () => Promise<void> }> {
  let n = 0;
  const server: Server = createServer((req, res) => {
    let path = req.url ?? '/';
    if (path === `/v2/${repo}/manifests/v1`) {
      n++;
      if (n % 2 === 1) path = `/v2/${repo}/manifests/${unsignedIndex}`;
    }
    const [host, port] = upstream.split(':');
    const up = request({ host, port: Number(port), method: req.method, path, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        host: `127.0.0.1:${(server.address() as { port: number }).port}`,
        tagRequests: () => n,
        close: () => new Promise<void>((r) => server.close(() => r())),
      })
    )
  );
}

describe('a covering index is resolved once: a tag that changes between requests lends no signature', () => {
  let work: string;
  let serve: Served;
  let keys: KeyStore;
  let store: string;
  let policy: string;
  let platform: Descriptor;
  let unsigned: Descriptor;

  async function pushIndex(
    t: RegistryTarget,
    manifests: Descriptor[],
    tag: string | undefined,
    name: string
  ): Promise<Descriptor> {
    const platformOf = (m: Descriptor) => ({ ...m, platform: { os: 'linux', architecture: 'amd64' } });
    const bytes = encodeManifest({
      schemaVersion: 2,
      mediaType: MediaType.ImageIndex,
      manifests: manifests.map(platformOf),
      annotations: { name },
    });
    const d = descriptorFor(MediaType.ImageIndex, bytes);
    await t.push(d, bytes);
    if (tag) await t.tag(d, tag);
    return d;
  }

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'signet-covering-'));
    serve = await startServe();
    ({ keys, store, policy } = await trustSetup(work));
    const t = new RegistryTarget({ registry: serve.host, repository: 'app' });
    platform = await pushArtifact(t, 'the unsigned platform manifest');
    const other = await pushArtifact(t, 'another platform manifest');
    unsigned = await pushIndex(t, [platform], undefined, 'unsigned');
    const signed = await pushIndex(t, [other], 'v1', 'signed');
    // the control: an index that really lists the platform manifest, signed, under tag v2
    const honest = await pushIndex(t, [platform], 'v2', 'honest');
    await t.close();
    await sign(`${serve.host}/app@${signed.digest}`, { keyStore: keys });
    await sign(`${serve.host}/app@${honest.digest}`, { keyStore: keys });
  }, 60_000);
  afterAll(async () => {
    await serve?.close();
    await rm(work, { recursive: true, force: true });
  });

  it('CLI: exit 1 through the swapping proxy, with one request for the tag; the honest signed index is accepted', async () => {
    const proxy = await swappingProxy(serve.host, 'app', unsigned.digest);
    try {
      const args = ['--accept-index-signature', '--policy', policy, '--trust-store', store];
      const attack = await runSignet([
        'verify',
        `${proxy.host}/app@${platform.digest}`,
        '--index',
        `${proxy.host}/app:v1`,
        ...args,
      ]);
      expect(attack.code, attack.stdout + attack.stderr).toBe(1);
      expect(attack.stdout).toMatch(/index .* does not verify|does not list/);
      expect(proxy.tagRequests()).toBe(1);
      const honest = await runSignet([
        'verify',
        `${proxy.host}/app@${platform.digest}`,
        '--index',
        `${proxy.host}/app:v2`,
        ...args,
      ]);
      expect(honest.code, honest.stdout + honest.stderr).toBe(0);
      expect(honest.stdout).toMatch(/accepted because the signed index/);
    } finally {
      await proxy.close();
    }
  });

  it('library: verify refuses whichever index the proxy answers first', async () => {
    for (const skew of [0, 1]) {
      const proxy = await swappingProxy(serve.host, 'app', unsigned.digest);
      try {
        if (skew) await runSignet(['discover', `${proxy.host}/app:v1`]); // the next answer is the signed index
        const r = await verify(`${proxy.host}/app@${platform.digest}`, {
          sources: { trustPolicy: policy, trustStore: store, defaults: false },
          coveringIndex: `${proxy.host}/app:v1`,
          acceptIndexSignature: true,
        });
        expect(r.verdict).toBe('failed');
        expect(r.checks.find((c) => c.name === 'subject')?.outcome).toBe('fail');
        expect(r.requirements.every((q) => !q.satisfied)).toBe(true);
      } finally {
        await proxy.close();
      }
    }
  });
});
