import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { readBodyBounded, SignetError } from '../../../src/util/index.ts';
import { lookasideUrl, readLookaside } from '../../../src/signature/index.ts';

const MiB = 1024 * 1024;
const DIGEST = `sha256:${'cd'.repeat(32)}`;

/** A loopback server that stops itself; `sent` counts the bytes each response wrote before its socket closed. */
async function listen(handler: (req: IncomingMessage, res: ServerResponse, count: (n: number) => void) => void) {
  const stats = { sent: 0, requests: 0 };
  const server = createServer((req, res) => {
    stats.requests++;
    handler(req, res, (n) => (stats.sent += n));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const close = () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return { base, stats, close };
}

/** Writes 64 KiB chunks, honouring backpressure, until the client goes away (or `limit` bytes). */
function stream(res: ServerResponse, count: (n: number) => void, limit = Infinity): void {
  const chunk = Buffer.alloc(64 * 1024, 0x41);
  let written = 0;
  const pump = (): void => {
    while (!res.destroyed && written < limit) {
      written += chunk.length;
      count(chunk.length);
      if (!res.write(chunk)) return void res.once('drain', pump);
    }
    if (!res.destroyed) res.end();
  };
  res.on('close', () => res.removeAllListeners('drain'));
  pump();
}

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'signet-http-body-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('readBodyBounded', () => {
  it('reads a body up to the bound exactly, and refuses one byte more', async () => {
    const data = Buffer.alloc(1000, 7);
    const whole = await readBodyBounded(Readable.from([data.subarray(0, 400), data.subarray(400)]), 1000);
    expect(whole.equals(data)).toBe(true);
    const err = await readBodyBounded(Readable.from([data, Buffer.from([1])]), 1000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SignetError);
    expect(err).toMatchObject({ code: 'SIZE_EXCEEDED' });
    expect((err as Error).message).toMatch(/larger than the 1000-byte limit/);
  });

  it('refuses a declared length over the bound without reading, and releases the body', async () => {
    let pulled = 0;
    const body = new Readable({
      read() {
        pulled++;
        this.push(Buffer.alloc(10));
      },
    });
    await expect(readBodyBounded(body, 100, { contentLength: '5000', what: 'test body' })).rejects.toThrow(
      /test body is 5000 bytes, over the 100-byte limit/
    );
    expect(pulled).toBe(0);
    expect(body.destroyed).toBe(true);
  });

  it('stops an endless body whose declared length lies, with the caller’s error', async () => {
    let produced = 0;
    const endless = new Readable({
      read() {
        produced += 4096;
        this.push(Buffer.alloc(4096));
      },
    });
    const options = { contentLength: 10, error: (m: string) => new RangeError(m) };
    const err = await readBodyBounded(endless, 64 * 1024, options).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RangeError);
    expect(endless.destroyed).toBe(true);
    expect(produced).toBeLessThan(1024 * 1024);
  });

  it('cancels a web ReadableStream it refuses', async () => {
    let cancelled = false;
    const web = new ReadableStream<Uint8Array>({
      pull(c) {
        c.enqueue(new Uint8Array(1024));
      },
      cancel() {
        cancelled = true;
      },
    });
    const body = web as unknown as AsyncIterable<Uint8Array>;
    await expect(readBodyBounded(body, 10_000)).rejects.toMatchObject({ code: 'SIZE_EXCEEDED' });
    expect(cancelled).toBe(true);
  });
});

describe('simple-signing lookaside reads are bounded (4 MiB per signature)', () => {
  it('an endless HTTP signature fails with a size error after about 4 MiB, and the connection is dropped', async () => {
    const srv = await listen((req, res, count) => {
      if (!req.url?.endsWith('/signature-1')) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'application/octet-stream' }); // chunked, no length
      stream(res, count);
    });
    try {
      const before = process.memoryUsage().arrayBuffers;
      const err = await readLookaside(`${srv.base}/sigs`, 'library/app', DIGEST).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SignetError);
      expect(err).toMatchObject({ code: 'SIZE_EXCEEDED' });
      expect((err as Error).message).toContain(lookasideUrl(`${srv.base}/sigs`, 'library/app', DIGEST, 1));
      // the server could push only what the socket buffers held beyond the 4 MiB read
      await new Promise((r) => setTimeout(r, 100));
      expect(srv.stats.sent).toBeLessThan(32 * MiB);
      expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * MiB);
    } finally {
      await srv.close();
    }
  });

  it('a 6 MiB signature is refused; one of 4 MiB and a missing signature-2 are fine', async () => {
    const srv = await listen((req, res, count) => {
      const big = req.url?.startsWith('/big/');
      if (!req.url?.endsWith('/signature-1')) return void res.writeHead(404).end();
      const size = big ? 6 * MiB : 4 * MiB;
      res.writeHead(200, { 'content-length': size });
      stream(res, count, size);
    });
    try {
      const ok = await readLookaside(`${srv.base}/ok`, 'library/app', DIGEST);
      expect(ok.map((s) => s.length)).toEqual([4 * MiB]);
      await expect(readLookaside(`${srv.base}/big`, 'library/app', DIGEST)).rejects.toMatchObject({
        code: 'SIZE_EXCEEDED',
        message: expect.stringMatching(/6291456 bytes, over the 4194304-byte limit/),
      });
    } finally {
      await srv.close();
    }
  });

  it('follows a bounded number of redirects; an HTTP error is inconclusive', async () => {
    const srv = await listen((req, res) => {
      if (req.url?.startsWith('/moved/')) {
        return void res.writeHead(302, { location: req.url.replace('/moved/', '/real/') }).end();
      }
      if (req.url?.startsWith('/loop/')) return void res.writeHead(302, { location: `${req.url}x` }).end();
      if (req.url?.startsWith('/real/') && req.url.endsWith('/signature-1')) return void res.writeHead(200).end('sig');
      if (req.url?.startsWith('/broken/')) return void res.writeHead(500).end();
      res.writeHead(404).end();
    });
    try {
      const moved = await readLookaside(`${srv.base}/moved`, 'app', DIGEST);
      expect(moved.map((b) => Buffer.from(b).toString())).toEqual(['sig']);
      const unavailable = { code: 'LOOKASIDE_UNAVAILABLE', kind: 'inconclusive' };
      await expect(readLookaside(`${srv.base}/loop`, 'app', DIGEST)).rejects.toMatchObject(unavailable);
      await expect(readLookaside(`${srv.base}/broken`, 'app', DIGEST)).rejects.toMatchObject(unavailable);
    } finally {
      await srv.close();
    }
  });

  it('a file:// signature that never ends (/dev/zero) fails with a size error', async () => {
    const base = join(work, 'lookaside');
    const url = lookasideUrl(pathToFileURL(base).href, 'library/app', DIGEST, 1);
    const path = new URL(url).pathname;
    await mkdir(join(path, '..'), { recursive: true });
    await symlink('/dev/zero', path);
    const zero = readLookaside(pathToFileURL(base).href, 'library/app', DIGEST);
    await expect(zero).rejects.toMatchObject({ code: 'SIZE_EXCEEDED' });
    // and ordinary files still read, up to the first missing one
    const other = join(work, 'plain');
    const digest2 = `sha256:${'ef'.repeat(32)}`;
    for (const n of [1, 2]) {
      const p = new URL(lookasideUrl(pathToFileURL(other).href, 'app', digest2, n)).pathname;
      await mkdir(join(p, '..'), { recursive: true });
      await writeFile(p, `signature ${n}`);
    }
    const got = await readLookaside(pathToFileURL(other).href, 'app', digest2);
    expect(got.map((b) => Buffer.from(b).toString())).toEqual(['signature 1', 'signature 2']);
  });
});
