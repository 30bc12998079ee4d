import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RegistryStorage } from '../../../src/server/storage.ts';

const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** Sends `body` in `parts` as one HTTP request and hands the server's IncomingMessage to `take`. */
async function overHttp(parts: Buffer[], take: (req: IncomingMessage) => Promise<unknown>): Promise<void> {
  let failure: unknown;
  const server = createServer((req, res) => {
    take(req).then(
      () => res.end('ok'),
      (err: unknown) => {
        failure = err;
        req.resume();
        res.statusCode = 500;
        res.end();
      }
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const { port } = server.address() as AddressInfo;
    const r = await fetch(`http://127.0.0.1:${port}/`, {
      method: 'PUT',
      body: Readable.toWeb(Readable.from(parts)) as ReadableStream,
      duplex: 'half',
    } as RequestInit);
    await r.arrayBuffer();
    if (failure) throw failure;
    expect(r.status).toBe(200);
  } finally {
    server.close();
  }
}

describe('RegistryStorage uploads (hashing sink, batched writes)', () => {
  let root: string;
  let storage: RegistryStorage;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'signet-storage-upload-'));
    storage = new RegistryStorage(root);
    await storage.init();
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("a monolithic upload from a caller's own buffers stores them and leaves those buffers untouched", async () => {
    const parts = [randomBytes(300_000), randomBytes(1), randomBytes(2 * 1024 * 1024 + 7)];
    const copies = parts.map((p) => Buffer.from(p));
    const all = Buffer.concat(parts);
    await storage.putBlob('a/b', sha256(all), Readable.from(parts), 64 * 1024 * 1024);
    expect(parts.map((p) => p.length)).toEqual(copies.map((c) => c.length));
    for (let i = 0; i < parts.length; i++) expect(parts[i]!.equals(copies[i]!)).toBe(true);
    expect((await readFile(storage.blobPath(sha256(all)))).equals(all)).toBe(true);
    expect(await storage.blobSize('a/b', sha256(all))).toBe(all.length);
  });

  it('request bodies are stored byte for byte, chunked and monolithic, and verified against the digest', async () => {
    const parts = Array.from({ length: 12 }, (_, i) => randomBytes(200_000 + i * 10_000));
    const all = Buffer.concat(parts);
    await overHttp(parts, (req) => storage.putBlob('x/mono', sha256(all), req, 64 * 1024 * 1024));
    expect((await readFile(storage.blobPath(sha256(all)))).equals(all)).toBe(true);

    const other = Buffer.concat([all, Buffer.from('tail')]);
    const uuid = await storage.createUpload('x/chunked');
    await overHttp(parts.slice(0, 5), (req) => storage.appendUpload(uuid, req, 64 * 1024 * 1024));
    await overHttp([...parts.slice(5), Buffer.from('tail')], (req) =>
      storage.appendUpload(uuid, req, 64 * 1024 * 1024)
    );
    await storage.finishUpload(uuid, 'x/chunked', sha256(other));
    expect((await readFile(storage.blobPath(sha256(other)))).equals(other)).toBe(true);

    const wrong = await storage.createUpload('x/wrong');
    await overHttp(parts, (req) => storage.appendUpload(wrong, req, 64 * 1024 * 1024));
    await expect(storage.finishUpload(wrong, 'x/wrong', sha256(Buffer.from('no')))).rejects.toMatchObject({
      code: 'DIGEST_INVALID',
    });
  });

  it('a chunk past the size cap is refused and the upload is cut back to where it was', async () => {
    const uuid = await storage.createUpload('c/cap');
    const first = randomBytes(100_000);
    expect(await storage.appendUpload(uuid, Readable.from([first]), 1_000_000)).toBe(first.length);
    await expect(
      storage.appendUpload(uuid, Readable.from([randomBytes(600_000), randomBytes(600_000)]), 1_000_000)
    ).rejects.toMatchObject({ code: 'SIZE_INVALID' });
    expect((await stat(`${root}/uploads/${uuid}/data`)).size).toBe(first.length);
    expect((await storage.uploadState(uuid))?.offset).toBe(first.length);
    const rest = randomBytes(5000);
    expect(await storage.appendUpload(uuid, Readable.from([rest]), 1_000_000)).toBe(first.length + rest.length);
    const all = Buffer.concat([first, rest]);
    await storage.finishUpload(uuid, 'c/cap', sha256(all));
    expect((await readFile(storage.blobPath(sha256(all)))).equals(all)).toBe(true);
  });

  it('a monolithic upload past the cap stores nothing', async () => {
    const big = randomBytes(3 * 1024 * 1024);
    await expect(storage.putBlob('c/mono', sha256(big), Readable.from([big]), 1024 * 1024)).rejects.toMatchObject({
      code: 'SIZE_INVALID',
    });
    await expect(stat(storage.blobPath(sha256(big)))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await storage.blobSize('c/mono', sha256(big))).toBeNull();
  });
});
