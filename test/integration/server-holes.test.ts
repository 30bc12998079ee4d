import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import bcrypt from 'bcryptjs';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAuthorizer, dummyHashFor } from '../../src/server/auth/index.ts';
import { fsck } from '../../src/server/index.ts';
import { RegistryTarget, staticCredentials } from '../../src/store/index.ts';
import { pushArtifact } from '../helpers/artifacts.ts';
import { startServe, type Served } from '../helpers/serve.ts';

/** A raw GET (any Host header, no client-side normalising). */
function get(
  host: string,
  path: string,
  headers: Record<string, string> = {}
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const [hostname, port] = host.split(':');
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port: Number(port), path, headers, method: 'GET' }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() })
      );
    });
    req.on('error', reject);
    req.end();
  });
}
const basic = (u: string, p: string): Record<string, string> => ({
  authorization: `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`,
});

describe('signet serve: holes a security review found (issue 9), each closed', () => {
  let work: string;
  let open: Served;
  let authed: Served;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'signet-holes-'));
    open = await startServe({ root: join(work, 'open') });
    const t = new RegistryTarget({ registry: open.host, repository: 'team/app' });
    await pushArtifact(t, 'app', { tag: 'v1' });
    await t.close();
    // a directory outside the store that looks like a repository's tags
    await mkdir(join(work, 'elsewhere', '_tags', 'secret-tag'), { recursive: true });
    await writeFile(join(work, 'elsewhere', '_tags', 'secret-tag', 'link'), `sha256:${'a'.repeat(64)}`);
    const cfg = join(work, 'auth.json');
    await writeFile(
      cfg,
      JSON.stringify({
        users: { alice: bcrypt.hashSync('wonderland', 5) },
        access: [{ repository: 'team/*', users: ['alice'], actions: ['pull', 'push'] }],
      })
    );
    authed = await startServe({ root: join(work, 'authed'), authorizer: await createAuthorizer(cfg) });
    const a = new RegistryTarget({
      registry: authed.host,
      repository: 'team/app',
      credentials: staticCredentials({ username: 'alice', password: 'wonderland' }),
    });
    await pushArtifact(a, 'private app', { tag: 'v1' });
    await a.close();
  }, 60_000);
  afterAll(async () => {
    await open?.close();
    await authed?.close();
    await rm(work, { recursive: true, force: true });
  });

  it('the web view answers to --auth: anonymous gets a Basic challenge and no names; alice sees her repositories', async () => {
    const anon = await get(authed.host, '/');
    expect(anon.status).toBe(401);
    expect(String(anon.headers['www-authenticate'])).toMatch(/^Basic realm=/);
    expect(anon.body).not.toContain('team/app');
    expect((await get(authed.host, '/?repo=team/app')).status).toBe(401);
    const alice = await get(authed.host, '/', basic('alice', 'wonderland'));
    expect(alice.status).toBe(200);
    expect(alice.body).toContain('team/app');
    const page = await get(authed.host, '/?repo=team/app', basic('alice', 'wonderland'));
    expect(page.status).toBe(200);
    expect(page.body).toContain('<b>v1</b>');
    expect((await get(authed.host, '/?repo=team/app', basic('alice', 'wrong'))).status).toBe(403);
  });

  it('the web view refuses names outside the repository grammar (no path traversal out of --root)', async () => {
    for (const bad of ['../elsewhere', '../../elsewhere', 'team/../../elsewhere', '/etc', 'Team/App']) {
      const r = await get(open.host, `/?repo=${encodeURIComponent(bad)}`);
      expect(r.status, bad).toBe(400);
      expect(r.body).not.toContain('secret-tag');
    }
    expect((await get(open.host, '/?repo=team/app')).body).toContain('<b>v1</b>');
  });

  it('the bearer realm never carries a Host header that is not a plain host[:port]', async () => {
    const injected = await get(authed.host, '/v2/', { host: 'x", service="evil' });
    expect(injected.status).toBe(401);
    const c = String(injected.headers['www-authenticate']);
    expect(c).not.toContain('evil');
    expect(c).toMatch(/^Bearer realm="http:\/\/127\.0\.0\.1:\d+\/token",service="signet"$/);
    const plain = await get(authed.host, '/v2/', { host: 'registry.example.com:5000' });
    expect(String(plain.headers['www-authenticate'])).toContain('realm="http://registry.example.com:5000/token"');
  });

  it("unknown users are checked against a hash of the known users' cost (no timing oracle by construction)", () => {
    const cost = (h: string): string => h.slice(0, 7);
    expect(cost(dummyHashFor(new Map([['alice', bcrypt.hashSync('x', 5)]])))).toBe('$2b$05$');
    expect(
      cost(
        dummyHashFor(
          new Map([
            ['a', bcrypt.hashSync('x', 4)],
            ['b', bcrypt.hashSync('y', 6)],
          ])
        )
      )
    ).toBe('$2b$06$');
    expect(cost(dummyHashFor(new Map()))).toBe('$2b$10$');
  });

  it('a chunk still streaming cannot write into a blob the final PUT committed (no content under a wrong digest)', async () => {
    const [hostname, port] = open.host.split(':');
    const send = (
      method: string,
      path: string,
      body?: Buffer
    ): Promise<{ status: number; location?: string; body: string }> =>
      new Promise((resolve, reject) => {
        const req = request(
          {
            hostname,
            port: Number(port),
            method,
            path,
            headers: body
              ? { 'content-type': 'application/octet-stream', 'content-length': String(body.length) }
              : { 'content-length': '0' },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () =>
              resolve({
                status: res.statusCode ?? 0,
                location: res.headers.location,
                body: Buffer.concat(chunks).toString(),
              })
            );
          }
        );
        req.on('error', reject);
        req.end(body);
      });
    const started = await send('POST', '/v2/team/poison/blobs/uploads/');
    expect(started.status).toBe(202);
    const loc = started.location!;
    const a = Buffer.alloc(4096, 0x61);
    expect((await send('PATCH', loc, a)).status).toBe(202);
    // a second chunk that stays open: B1 now, B2 after the PUT
    const b1 = Buffer.alloc(4096, 0x62);
    const b2 = Buffer.alloc(4096, 0x63);
    const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
    let patchReq!: ReturnType<typeof request>;
    const patched = new Promise<number>((resolve, reject) => {
      patchReq = request(
        {
          hostname,
          port: Number(port),
          method: 'PATCH',
          path: loc,
          headers: { 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        }
      );
      patchReq.on('error', reject);
    });
    patchReq.write(b1);
    await sleep(300); // B1 reaches the upload's data file
    // the attacker's final PUT names the digest of what is on disk so far, while the chunk is open
    const digest = `sha256:${createHash('sha256')
      .update(Buffer.concat([a, b1]))
      .digest('hex')}`;
    const put = send('PUT', `${loc}${loc.includes('?') ? '&' : '?'}digest=${digest}`);
    await sleep(300);
    patchReq.end(b2);
    await patched;
    const { status } = await put;
    expect(status).toBe(400);
    // nothing is stored under the digest (the old server stored A+B1+B2 there)
    expect((await get(open.host, `/v2/team/poison/blobs/${digest}`)).status).toBe(404);
    const fsckReport = await fsck(open.root);
    expect(fsckReport.corrupt).toEqual([]);
  });

  it('a final PUT whose Content-Range does not continue the upload is 416, as a PATCH would be (OCI conformance)', async () => {
    const [hostname, port] = open.host.split(':');
    const call = (method: string, path: string, body: Buffer, headers: Record<string, string> = {}) =>
      new Promise<{ status: number; location?: string; range?: string }>((resolve, reject) => {
        const req = request(
          {
            hostname,
            port: Number(port),
            method,
            path,
            headers: { 'content-type': 'application/octet-stream', 'content-length': String(body.length), ...headers },
          },
          (res) => {
            res.resume();
            res.on('end', () =>
              resolve({
                status: res.statusCode ?? 0,
                location: res.headers.location,
                range: res.headers.range as string | undefined,
              })
            );
          }
        );
        req.on('error', reject);
        req.end(body);
      });
    const started = await call('POST', '/v2/team/ranges/blobs/uploads/', Buffer.alloc(0));
    const loc = started.location!;
    const first = Buffer.alloc(100, 1);
    const last = Buffer.alloc(50, 2);
    expect((await call('PATCH', loc, first, { 'content-range': '0-99' })).status).toBe(202);
    const digest = `sha256:${createHash('sha256')
      .update(Buffer.concat([first, last]))
      .digest('hex')}`;
    const sep = loc.includes('?') ? '&' : '?';
    // out of order: claims to start at 120, not at 100
    const wrong = await call('PUT', `${loc}${sep}digest=${digest}`, last, { 'content-range': '120-169' });
    expect(wrong.status).toBe(416);
    expect(wrong.range).toBe('0-99');
    // in order, the same chunk completes the upload
    const right = await call('PUT', `${loc}${sep}digest=${digest}`, last, { 'content-range': '100-149' });
    expect(right.status).toBe(201);
  });

  it('a sha512 index pushed by tag with ?digest=sha512:… is stored and answered under sha512 (OCI conformance)', async () => {
    const t = new RegistryTarget({ registry: open.host, repository: 'team/app' });
    const child = await t.resolve('v1');
    await t.close();
    const index = Buffer.from(
      JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [child] })
    );
    const sha512 = `sha512:${createHash('sha512').update(index).digest('hex')}`;
    const url = `http://${open.host}/v2/team/app/manifests/multi512`;
    const put = await fetch(`${url}?digest=${sha512}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/vnd.oci.image.index.v1+json' },
      body: index,
    });
    expect(put.status).toBe(201);
    expect(put.headers.get('docker-content-digest')).toBe(sha512);
    expect(put.headers.get('location')).toBe(`/v2/team/app/manifests/${sha512}`);
    const head = await fetch(url, { method: 'HEAD', headers: { accept: 'application/vnd.oci.image.index.v1+json' } });
    expect(head.headers.get('docker-content-digest')).toBe(sha512);
    expect((await fetch(`http://${open.host}/v2/team/app/manifests/${sha512}`)).status).toBe(200);
    // A digest the bytes do not have is refused, as for a push by digest.
    const wrong = await fetch(`${url}?digest=sha512:${'0'.repeat(128)}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/vnd.oci.image.index.v1+json' },
      body: index,
    });
    expect(wrong.status).toBe(400);
  });
});
