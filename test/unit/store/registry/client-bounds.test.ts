import { describe, expect, it } from 'vitest';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { descriptorFor } from '../../../../src/oci/index.ts';
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
function endless(res: ServerResponse, count: (n: number) => void, first = '{"tags":["'): void {
  const chunk = Buffer.alloc(64 * 1024, 0x61);
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
