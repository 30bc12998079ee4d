import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { descriptorFor, MediaType } from '../../../src/oci/index.ts';
import { createAuthorizer } from '../../../src/server/auth/index.ts';
import { dockerCredentials, fetchAll, RegistryTarget, staticCredentials } from '../../../src/store/index.ts';
import { pushArtifact, pushGraph } from '../../helpers/artifacts.ts';
import { startDistribution } from '../../helpers/distribution.ts';
import { runSignet, startServe, type Served } from '../../helpers/serve.ts';

const sha = (b: Buffer | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function listen(
  handler: (req: IncomingMessage, res: ServerResponse) => void
): Promise<{ host: string; server: Server; close(): Promise<void> }> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const host = `127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    host,
    server,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

describe('registry client', () => {
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'signet-client-'));
  });
  afterAll(async () => rm(work, { recursive: true, force: true }));

  describe('against signet serve with token auth', () => {
    let s: Served;
    beforeAll(async () => {
      const cfg = join(work, 'auth.json');
      await writeFile(
        cfg,
        JSON.stringify({
          users: { ci: bcrypt.hashSync('secret', 8) },
          access: [
            { repository: '*', users: ['ci'], actions: ['*'] },
            { repository: 'public/*', users: ['anonymous'], actions: ['pull'] },
          ],
        })
      );
      s = await startServe({ authorizer: await createAuthorizer(cfg) });
    });
    afterAll(async () => s?.close());

    it('follows the bearer challenge, caches the token, and pushes/pulls a graph', async () => {
      const t = new RegistryTarget({
        registry: s.host,
        repository: 'team/app',
        credentials: staticCredentials({ username: 'ci', password: 'secret' }),
      });
      const g = await pushGraph(t);
      expect((await t.resolve('v1')).digest).toBe(g.root.digest);
      expect((await t.referrers(g.root)).map((d) => d.digest).sort()).toEqual([g.sig.digest, g.sbom.digest].sort());
      await t.close();
    });

    it('fails with a clear UNAUTHORIZED error without credentials or with wrong ones', async () => {
      const anon = new RegistryTarget({ registry: s.host, repository: 'team/app' });
      await expect(anon.resolve('v1')).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
      const wrong = new RegistryTarget({
        registry: s.host,
        repository: 'team/app',
        credentials: staticCredentials({ username: 'ci', password: 'nope' }),
      });
      await expect(wrong.resolve('v1')).rejects.toThrow(/check the credentials/);
      await anon.close();
      await wrong.close();
    });

    it('signet login checks credentials and stores them 0600; later commands use them', async () => {
      const env = { DOCKER_CONFIG: join(work, 'docker') };
      const bad = await runSignet(['login', s.host, '-u', 'ci', '--password-stdin'], { env, input: 'nope\n' });
      expect(bad.code).toBe(3);
      expect(bad.stderr).toMatch(/UNAUTHORIZED/);
      const ok = await runSignet(['login', s.host, '-u', 'ci', '--password-stdin'], { env, input: 'secret\n' });
      expect(ok.stdout).toContain('Login succeeded');
      const path = join(work, 'docker', 'config.json');
      expect((await stat(path)).mode & 0o777).toBe(0o600);
      const cfg = JSON.parse(await readFile(path, 'utf8')) as { auths: Record<string, { auth: string }> };
      expect(Buffer.from(cfg.auths[s.host]!.auth, 'base64').toString()).toBe('ci:secret');
      const d = await runSignet(['discover', `${s.host}/team/app:v1`, '-o', 'json'], { env });
      expect(d.code).toBe(0);
      expect((JSON.parse(d.stdout) as { referrers: unknown[] }).referrers).toHaveLength(2);
      expect((await runSignet(['logout', s.host], { env })).stdout).toContain('Removed');
      expect((await runSignet(['discover', `${s.host}/team/app:v1`], { env })).code).toBe(3);
    });

    it('uses a docker credential helper found on PATH', async () => {
      const bin = join(work, 'bin');
      await writeFile(join(work, 'helper-config.json'), '');
      const { mkdir } = await import('node:fs/promises');
      await mkdir(bin, { recursive: true });
      await writeFile(
        join(bin, 'docker-credential-test'),
        `#!/bin/sh\nread host\n[ "$host" = "${s.host}" ] || { echo "credentials not found in native keychain"; exit 1; }\necho '{"ServerURL":"'$host'","Username":"ci","Secret":"secret"}'\n`
      );
      await chmod(join(bin, 'docker-credential-test'), 0o755);
      await mkdir(join(work, 'helperdocker'), { recursive: true });
      await writeFile(join(work, 'helperdocker', 'config.json'), JSON.stringify({ credHelpers: { [s.host]: 'test' } }));
      const oldPath = process.env.PATH;
      process.env.PATH = `${bin}:${oldPath}`;
      try {
        const t = new RegistryTarget({
          registry: s.host,
          repository: 'team/app',
          credentials: dockerCredentials({ configPath: join(work, 'helperdocker', 'config.json') }),
        });
        expect(await t.tags()).toContain('v1');
        await t.close();
      } finally {
        process.env.PATH = oldPath;
      }
    });
  });

  describe('against distribution 2.8.2 (basic auth, no referrers API)', () => {
    let d: { host: string; close(): Promise<void> };
    beforeAll(async () => {
      d = await startDistribution({ htpasswd: `ci:${bcrypt.hashSync('secret', 8)}\n` });
    });
    afterAll(async () => d?.close());

    it('basic auth, chunked upload of a 40 MiB blob, tag pagination, referrers via the tag schema, delete updates it', async () => {
      const t = new RegistryTarget({
        registry: d.host,
        repository: 'lib/app',
        credentials: staticCredentials({ username: 'ci', password: 'secret' }),
        chunkSize: 8 * 1024 * 1024,
      });
      const big = Buffer.alloc(40 * 1024 * 1024);
      for (let i = 0; i < big.length; i += 4096) big.writeUInt32BE(i, i);
      const bigDesc = descriptorFor('application/octet-stream', big);
      const { Readable } = await import('node:stream');
      await t.push(bigDesc, Readable.from([big.subarray(0, 1 << 20), big.subarray(1 << 20)]));
      expect(Buffer.from(await fetchAll(t, bigDesc, big.length)).equals(big)).toBe(true);
      const g = await pushGraph(t);
      for (const tag of ['a', 'b', 'c', 'd', 'e']) await t.tag(g.root, tag);
      expect(await t.tags()).toEqual(
        ['a', 'b', 'c', 'd', 'e', `sha256-${g.root.digest.slice(7)}`, `sha256-${g.sbom.digest.slice(7)}`, 'v1'].sort()
      );
      expect((await t.referrers(g.root)).map((x) => x.digest).sort()).toEqual([g.sig.digest, g.sbom.digest].sort());
      expect((await t.referrers(g.root, 'application/spdx+json')).map((x) => x.digest)).toEqual([g.sbom.digest]);
      await t.delete(g.sig);
      expect((await t.referrers(g.root)).map((x) => x.digest)).toEqual([g.sbom.digest]);
      await t.close();
    });

    it('anonymous access fails with UNAUTHORIZED', async () => {
      const t = new RegistryTarget({ registry: d.host, repository: 'lib/app' });
      await expect(t.tags()).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
      await t.close();
    });

    it('mounts a blob across repositories', async () => {
      const creds = staticCredentials({ username: 'ci', password: 'secret' });
      const a = new RegistryTarget({ registry: d.host, repository: 'lib/a', credentials: creds });
      const b = new RegistryTarget({ registry: d.host, repository: 'lib/b', credentials: creds });
      const bytes = Buffer.from('shared layer');
      const desc = descriptorFor('application/octet-stream', bytes);
      await a.push(desc, bytes);
      expect(await b.exists(desc)).toBe(false);
      expect(await b.mount(desc, a)).toBe(true);
      expect(await b.exists(desc)).toBe(true);
      await a.close();
      await b.close();
    });
  });

  describe('against misbehaving servers', () => {
    it('retries 429 honouring Retry-After, then succeeds', async () => {
      let calls = 0;
      const srv = await listen((req, res) => {
        calls++;
        if (calls === 1) return void res.writeHead(429, { 'retry-after': '1' }).end();
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ name: 'x', tags: ['ok'] }));
      });
      const t = new RegistryTarget({ registry: srv.host, repository: 'x' });
      const started = Date.now();
      expect(await t.tags()).toEqual(['ok']);
      expect(calls).toBe(2);
      expect(Date.now() - started).toBeGreaterThanOrEqual(900);
      await t.close();
      await srv.close();
    });

    it('follows a blob redirect to another origin without sending Authorization there', async () => {
      const blob = Buffer.from('blob from the CDN');
      const seen: Array<string | undefined> = [];
      const cdn = await listen((req, res) => {
        seen.push(req.headers.authorization);
        res.writeHead(200, { 'content-length': blob.length }).end(blob);
      });
      const reg = await listen((req, res) => {
        if (req.url?.startsWith('/token'))
          return void res
            .writeHead(200, { 'content-type': 'application/json' })
            .end(JSON.stringify({ token: 'T0K3N' }));
        if (req.headers.authorization !== 'Bearer T0K3N')
          return void res
            .writeHead(401, { 'www-authenticate': `Bearer realm="http://${reg.host}/token",service="t"` })
            .end();
        res.writeHead(307, { location: `http://${cdn.host}/blob` }).end();
      });
      const t = new RegistryTarget({ registry: reg.host, repository: 'x' });
      const got = await fetchAll(t, descriptorFor('application/octet-stream', blob), 1024);
      expect(Buffer.from(got).equals(blob)).toBe(true);
      expect(seen).toEqual([undefined]);
      await t.close();
      await cdn.close();
      await reg.close();
    });

    it('refuses a blob whose bytes do not match, and an oversized manifest', async () => {
      const srv = await listen((req, res) => {
        if (req.url?.includes('/blobs/')) return void res.writeHead(200, { 'content-length': 5 }).end('evil!');
        res.writeHead(200, { 'content-type': MediaType.ImageManifest, 'content-length': String(5 * 1024 * 1024) });
        res.end(Buffer.alloc(5 * 1024 * 1024, 32));
      });
      const t = new RegistryTarget({ registry: srv.host, repository: 'x' });
      await expect(
        fetchAll(t, { mediaType: 'application/octet-stream', digest: sha('good!'), size: 5 })
      ).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
      await expect(t.resolve('v1')).rejects.toMatchObject({ code: 'SIZE_EXCEEDED' });
      await t.close();
      await srv.close();
    });

    it('rejects a manifest whose bytes do not match the Docker-Content-Digest header', async () => {
      const body = JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.ImageManifest,
        config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha('{}'), size: 2 },
        layers: [],
      });
      const srv = await listen((_req, res) => {
        res
          .writeHead(200, { 'content-type': MediaType.ImageManifest, 'docker-content-digest': sha('something else') })
          .end(body);
      });
      const t = new RegistryTarget({ registry: srv.host, repository: 'x' });
      await expect(t.resolve('v1')).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
      await expect(t.resolve(sha('something else'))).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
      await t.close();
      await srv.close();
    });
  });

  it('push of an artifact is idempotent (existing blobs are not re-sent)', async () => {
    const s = await startServe();
    const t = new RegistryTarget({ registry: s.host, repository: 'idem/app' });
    const a = await pushArtifact(t, 'same', { tag: 'v1' });
    const b = await pushArtifact(t, 'same', { tag: 'v1' });
    expect(a.digest).toBe(b.digest);
    await t.close();
    await s.close();
  });
});
