import { describe, expect, it } from 'vitest';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RegistryTarget } from '../../../src/store/index.ts';

// A registry's Link header decides the next page of a tag listing: a page it names again is a
// loop (the fuzzer's registry-headers target saw the client send 10,000 requests for one), and
// a listing that is not JSON is a coded error, never a raw SyntaxError.
describe('tag listing pages from a hostile registry', () => {
  async function registry(answer: (url: string) => { body: string; link?: string }) {
    let requests = 0;
    const server = createServer((req, res) => {
      requests++;
      if (req.url === '/v2/') {
        res.writeHead(200).end('{}');
        return;
      }
      const a = answer(req.url ?? '');
      res.writeHead(200, { 'content-type': 'application/json', ...(a.link ? { link: a.link } : {}) }).end(a.body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    return { host, requests: () => requests, close: () => new Promise<void>((r) => server.close(() => r())) };
  }

  it('a Link that names a page again is refused at once, not followed for ever', async () => {
    const r = await registry(() => ({
      body: JSON.stringify({ name: 'a/b', tags: ['x'] }),
      link: '</v2/a/b/tags/list?page=1>; rel="next"',
    }));
    const t = new RegistryTarget({ registry: r.host, repository: 'a/b' });
    try {
      await expect(t.tags()).rejects.toThrow(/the tag list's pages loop/);
      expect(r.requests()).toBeLessThan(10);
    } finally {
      await t.close();
      await r.close();
    }
  });

  it('a listing that is not JSON, or whose tags are not names, is a coded error', async () => {
    for (const body of ['not json', JSON.stringify({ tags: [1, 2] }), JSON.stringify({ tags: 'x' })]) {
      const r = await registry(() => ({ body }));
      const t = new RegistryTarget({ registry: r.host, repository: 'a/b' });
      try {
        await expect(t.tags()).rejects.toMatchObject({ code: 'MANIFEST_INVALID' });
      } finally {
        await t.close();
        await r.close();
      }
    }
  });
});
