import { describe, expect, it } from 'vitest';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { descriptorFor, MediaType } from '../../../../src/oci/index.ts';
import { fetchAll, RegistryClient, RegistryTarget, staticCredentials } from '../../../../src/store/index.ts';

const MiB = 1024 * 1024;

/** A loopback server that stops itself; counts requests and the bytes written to responses. */
async function listen(handler: (req: IncomingMessage, res: ServerResponse, count: (n: number) => void) => void) {
  const stats = { requests: 0, sent: 0, paths: [] as string[], auth: [] as Array<string | undefined> };
  const server = createServer((req, res) => {
    stats.requests++;
    stats.paths.push(`${req.method} ${req.url}`);
    stats.auth.push(req.headers.authorization);
    handler(req, res, (n) => (stats.sent += n));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const host = `127.0.0.1:${(server.address() as { port: number }).port}`;
  const close = () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return { host, stats, close };
}

/** An endless chunked body, honouring backpressure, until the client goes away. */
function endless(res: ServerResponse, count: (n: number) => void, first = '{"tags":["', fill = 0x61): void {
  const chunk = Buffer.alloc(64 * 1024, fill);
  res.write(first);
  const pump = (): void => {
    while (!res.destroyed) {
      count(chunk.length);
      if (!res.write(chunk)) return void res.once('drain', pump);
    }
  };
  pump();
}

describe('registry client: bounded bodies', () => {
  it('an endless tag list stops at its bound with SIZE_EXCEEDED', async () => {
    const srv = await listen((_req, res, count) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      endless(res, count);
    });
    const t = new RegistryTarget({ registry: srv.host, repository: 'x' });
    try {
      await expect(t.tags()).rejects.toMatchObject({ code: 'SIZE_EXCEEDED' });
      await new Promise((r) => setTimeout(r, 100));
      expect(srv.stats.sent).toBeLessThan(48 * MiB); // the 16 MiB bound plus what sockets buffer
    } finally {
      await t.close();
      await srv.close();
    }
  });

  it('an endless manifest, referrer list or blob read whole stops at its bound with SIZE_EXCEEDED', async () => {
    const srv = await listen((req, res, count) => {
      // HEAD answers without a digest, so resolve() reads the manifest itself
      if (req.method === 'HEAD') return void res.writeHead(200).end();
      const ct = req.url?.includes('/referrers/') ? MediaType.ImageIndex : MediaType.ImageManifest;
      res.writeHead(200, { 'content-type': ct });
      endless(res, count, '{"schemaVersion":2,"x":"');
    });
    const t = new RegistryTarget({ registry: srv.host, repository: 'x' });
    const blob = descriptorFor('application/octet-stream', Buffer.from('five!'));
    try {
      await expect(t.resolve('v1')).rejects.toMatchObject({ code: 'SIZE_EXCEEDED' });
      await expect(t.referrers(blob)).rejects.toMatchObject({ code: 'SIZE_EXCEEDED' });
      // a blob is taken up to its descriptor's size, not up to the manifest bound
      const err = await fetchAll(t, blob).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'SIZE_EXCEEDED' });
      expect((err as Error).message).toMatch(/over the 5-byte limit/);
      await new Promise((r) => setTimeout(r, 100));
      expect(srv.stats.sent).toBeLessThan(3 * 4 * MiB + 48 * MiB); // two 4 MiB bounds, 5 bytes, socket buffers
    } finally {
      await t.close();
      await srv.close();
    }
  });

  it('a manifest or blob declaring more than its bound is refused before its body is read', async () => {
    const srv = await listen((req, res, count) => {
      if (req.method === 'HEAD') return void res.writeHead(200).end();
      res.writeHead(200, { 'content-type': MediaType.ImageManifest, 'content-length': String(64 * MiB) });
      endless(res, count, '{"schemaVersion":2,"x":"');
    });
    const t = new RegistryTarget({ registry: srv.host, repository: 'x' });
    try {
      const err = await t.resolve('v1').catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'SIZE_EXCEEDED' });
      expect((err as Error).message).toMatch(/is 67108864 bytes, over the 4194304-byte limit/);
      const blob = descriptorFor('application/octet-stream', Buffer.from('five!'));
      await expect(fetchAll(t, blob)).rejects.toMatchObject({ code: 'SIZE_EXCEEDED' });
      await new Promise((r) => setTimeout(r, 100));
      expect(srv.stats.sent).toBeLessThan(48 * MiB);
    } finally {
      await t.close();
      await srv.close();
    }
  });

  it("an error answer with an endless body still reports the registry's error, read no further", async () => {
    const srv = await listen((req, res, count) => {
      if (req.method === 'HEAD') return void res.writeHead(200).end();
      res.writeHead(403, { 'content-type': 'application/json' });
      // the error document, then JSON whitespace without end
      endless(res, count, '{"errors":[{"code":"DENIED","message":"not for you"}]}', 0x20);
    });
    const t = new RegistryTarget({ registry: srv.host, repository: 'x' });
    try {
      const err = await t.resolve('v1').catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'DENIED' });
      expect((err as Error).message).toMatch(/HTTP 403 DENIED: not for you/);
      await new Promise((r) => setTimeout(r, 100));
      expect(srv.stats.sent).toBeLessThan(48 * MiB);
    } finally {
      await t.close();
      await srv.close();
    }
  });

  it('a blob shorter than its descriptor, or with other bytes, is refused', async () => {
    const srv = await listen((req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(req.url?.endsWith(short.digest) ? 'four' : 'evil!');
    });
    const short = descriptorFor('application/octet-stream', Buffer.from('five!'));
    const other = descriptorFor('application/octet-stream', Buffer.from('good!'));
    const t = new RegistryTarget({ registry: srv.host, repository: 'x' });
    try {
      await expect(fetchAll(t, short)).rejects.toMatchObject({ code: 'SIZE_INVALID' });
      await expect(fetchAll(t, other)).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
    } finally {
      await t.close();
      await srv.close();
    }
  });

  it('an endless token answer stops at its bound with SIZE_EXCEEDED', async () => {
    const srv = await listen((req, res, count) => {
      if (req.url?.startsWith('/token')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        return endless(res, count, '{"token":"');
      }
      res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${srv.host}/token",service="t"` }).end();
    });
    const t = new RegistryTarget({ registry: srv.host, repository: 'x' });
    try {
      await expect(t.tags()).rejects.toMatchObject({ code: 'SIZE_EXCEEDED' });
      expect(srv.stats.sent).toBeLessThan(32 * MiB);
    } finally {
      await t.close();
      await srv.close();
    }
  });

  it('a token answer declaring a length over the bound is refused unread', async () => {
    const srv = await listen((req, res) => {
      if (req.url?.startsWith('/token')) {
        return void res.writeHead(200, { 'content-length': String(2 * MiB) }).end(Buffer.alloc(2 * MiB));
      }
      res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${srv.host}/token",service="t"` }).end();
    });
    const t = new RegistryTarget({ registry: srv.host, repository: 'x' });
    try {
      const err = await t.tags().catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'SIZE_EXCEEDED' });
      expect((err as Error).message).toMatch(/2097152 bytes, over the 1048576-byte limit/);
    } finally {
      await t.close();
      await srv.close();
    }
  });
});

describe('registry client: retries and redirects (undici interceptors)', () => {
  it('retries 503 a bounded number of times, then reports the registry unavailable', async () => {
    const srv = await listen((_req, res) => void res.writeHead(503, { 'retry-after': '0' }).end());
    const client = new RegistryClient({ registry: srv.host, maxAttempts: 3 });
    const t = new RegistryTarget({ registry: srv.host, repository: 'x', client });
    try {
      await expect(t.tags()).rejects.toMatchObject({ code: 'UNAVAILABLE' });
      expect(srv.stats.requests).toBe(3);
    } finally {
      await client.close();
      await srv.close();
    }
  });

  it('an answer read whole (a manifest, a blob) is retried as a streamed one is, and only its last attempt is kept', async () => {
    const blob = Buffer.from('the blob after a busy registry');
    const desc = descriptorFor('application/octet-stream', blob);
    let calls = 0;
    const srv = await listen((_req, res) => {
      // refused once first, with a body of its own that must not end up in the answer
      if (++calls === 1) return void res.writeHead(503, { 'retry-after': '0' }).end('busy, try again');
      res.writeHead(200, { 'content-length': String(blob.length) }).end(blob);
    });
    const t = new RegistryTarget({ registry: srv.host, repository: 'x' });
    try {
      expect(Buffer.from(await fetchAll(t, desc)).equals(blob)).toBe(true);
      expect(srv.stats.requests).toBe(2);
    } finally {
      await t.close();
      await srv.close();
    }
  });

  it('a HEAD whose connection is reset is asked again', async () => {
    let calls = 0;
    const srv = await listen((req, res) => {
      if (++calls === 1) return void req.socket.destroy();
      res.writeHead(404).end();
    });
    const t = new RegistryTarget({ registry: srv.host, repository: 'x' });
    try {
      await expect(t.exists(descriptorFor('application/octet-stream', Buffer.from('x')))).resolves.toBe(false);
      expect(srv.stats.requests).toBe(2);
    } finally {
      await t.close();
      await srv.close();
    }
  });

  it('a HEAD answered 503 every time is not asked again without end: exists() reports it, resolve() asks with GET', async () => {
    // undici's retry handler retried such a HEAD by status without bound (about 80 times a second)
    const srv = await listen((_req, res) => void res.writeHead(503, { 'retry-after': '0' }).end());
    const client = new RegistryClient({ registry: srv.host, maxAttempts: 3 });
    const t = new RegistryTarget({ registry: srv.host, repository: 'x', client });
    try {
      const desc = descriptorFor('application/octet-stream', Buffer.from('x'));
      await expect(t.exists(desc)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
      expect(srv.stats.paths).toEqual([`HEAD /v2/x/blobs/${desc.digest}`]);
      await expect(t.resolve('v1')).rejects.toMatchObject({ code: 'UNAVAILABLE' });
      // one HEAD, then the GET and its two retries
      expect(srv.stats.paths.slice(1)).toEqual([
        'HEAD /v2/x/manifests/v1',
        'GET /v2/x/manifests/v1',
        'GET /v2/x/manifests/v1',
        'GET /v2/x/manifests/v1',
      ]);
    } finally {
      await client.close();
      await srv.close();
    }
  });

  it('retries a 502, then succeeds', async () => {
    let calls = 0;
    const srv = await listen((_req, res) => {
      if (++calls === 1) return void res.writeHead(502).end();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ name: 'x', tags: ['v1'] }));
    });
    const t = new RegistryTarget({ registry: srv.host, repository: 'x' });
    try {
      expect(await t.tags()).toEqual(['v1']);
      expect(calls).toBe(2);
    } finally {
      await t.close();
      await srv.close();
    }
  });

  it('stops a redirect chain after 5 redirects', async () => {
    const srv = await listen((req, res) => void res.writeHead(302, { location: `${req.url}/again` }).end());
    const t = new RegistryTarget({ registry: srv.host, repository: 'x' });
    try {
      const err = await t.tags().catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'UNAVAILABLE' });
      expect((err as Error).message).toMatch(/too many redirects/);
      expect(srv.stats.requests).toBe(6);
    } finally {
      await t.close();
      await srv.close();
    }
  });

  it('a foreign origin reached by a redirect gets no credentials, and its challenge is not followed', async () => {
    const blob = Buffer.from('blob behind a redirect');
    const evil = await listen((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"token":"stolen"}');
    });
    const cdn = await listen((_req, res) => {
      res.writeHead(401, { 'www-authenticate': `Basic realm="cdn"` });
      res.end();
    });
    const cdnBearer = await listen((_req, res) => {
      res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${evil.host}/token",service="evil"` });
      res.end();
    });
    const reg = await listen((req, res) => {
      if (req.headers.authorization !== `Basic ${Buffer.from('ci:secret').toString('base64')}`) {
        return void res.writeHead(401, { 'www-authenticate': 'Basic realm="registry"' }).end();
      }
      const to = req.url?.includes('/bearer/') ? cdnBearer.host : cdn.host;
      res.writeHead(307, { location: `http://${to}/blob` }).end();
    });
    const creds = staticCredentials({ username: 'ci', password: 'secret' });
    const desc = descriptorFor('application/octet-stream', blob);
    try {
      for (const repo of ['plain/x', 'bearer/x']) {
        const t = new RegistryTarget({ registry: reg.host, repository: repo, credentials: creds });
        await expect(fetchAll(t, desc, 1024)).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
        await t.close();
      }
      expect(reg.stats.auth.filter(Boolean).length).toBeGreaterThan(0);
      expect([...cdn.stats.auth, ...cdnBearer.stats.auth]).toEqual(expect.not.arrayContaining([expect.any(String)]));
      expect(cdn.stats.requests + cdnBearer.stats.requests).toBeGreaterThanOrEqual(2);
      expect(evil.stats.requests).toBe(0);
    } finally {
      await Promise.all([evil.close(), cdn.close(), cdnBearer.close(), reg.close()]);
    }
  });
});
