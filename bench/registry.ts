import { createHash, randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { request } from 'undici';
import type { RegistryProcess } from './peers.ts';

const execFileP = promisify(execFile);
const MiB = 1024 * 1024;

/** A deterministic stream of `size` bytes made of one random 1 MiB block repeated with a counter. */
export class BlobSource {
  readonly size: number;
  readonly digest: string;
  private readonly block: Buffer;

  constructor(size: number) {
    this.size = size;
    this.block = randomBytes(MiB);
    const h = createHash('sha256');
    for (const chunk of this.chunks()) h.update(chunk);
    this.digest = `sha256:${h.digest('hex')}`;
  }

  *chunks(): Generator<Buffer> {
    let left = this.size;
    let i = 0;
    while (left > 0) {
      const n = Math.min(left, MiB);
      const chunk = Buffer.from(this.block.subarray(0, n));
      if (n >= 4) chunk.writeUInt32BE(i, 0); // no two blocks alike: defeats any dedupe
      i++;
      left -= n;
      yield chunk;
    }
  }

  stream(): Readable {
    return Readable.from(this.chunks(), { objectMode: false });
  }
}

async function pushBlob(host: string, repo: string, blob: BlobSource): Promise<void> {
  const start = await request(`http://${host}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  await start.body.dump();
  if (start.statusCode !== 202) throw new Error(`POST upload: ${start.statusCode}`);
  const loc = new URL(String(start.headers.location), `http://${host}`);
  loc.searchParams.set('digest', blob.digest);
  const put = await request(loc, {
    method: 'PUT',
    body: blob.stream(),
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(blob.size) },
  });
  await put.body.dump();
  if (put.statusCode !== 201) throw new Error(`PUT upload: ${put.statusCode}`);
}

/**
 * GETs the blob and counts its bytes, over a plain socket read into one reused 1 MiB buffer: no
 * stream, no allocation, no promise per chunk. undici in this process (under tsx) cost the client
 * more CPU than the faster server spent sending, so on this 2-core machine the client, not the
 * server, set the pace of a pull. The server must answer with a Content-Length (both do for a blob).
 */
function pullBlob(host: string, repo: string, blob: BlobSource): Promise<void> {
  const url = new URL(`http://${host}`);
  const path = `/v2/${repo}/blobs/${blob.digest}`;
  const buffer = Buffer.allocUnsafe(MiB);
  return new Promise((resolve, reject) => {
    let head: Buffer | null = Buffer.alloc(0);
    let want = -1;
    let got = 0;
    let done = false;
    const finish = (err?: Error): void => {
      if (done) return;
      done = true;
      socket.destroy();
      if (err) reject(err);
      else resolve();
    };
    const onread = (n: number, buf: Buffer): boolean => {
      let body = n;
      if (head) {
        // The status line and headers: small, copied out of the reused buffer until complete.
        head = Buffer.concat([head, buf.subarray(0, n)]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) {
          if (head.length > 64 * 1024) finish(new Error('GET blob: no end of headers'));
          return !done;
        }
        const text = head.subarray(0, end).toString('latin1');
        const status = /^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1];
        const length = /\r\ncontent-length:\s*(\d+)/i.exec(text)?.[1];
        if (status !== '200') finish(new Error(`GET blob: ${text.split('\r\n')[0]}`));
        else if (length === undefined) finish(new Error('GET blob: no Content-Length'));
        if (done) return false;
        want = Number(length);
        body = head.length - end - 4;
        head = null;
      }
      got += body;
      if (got > want) finish(new Error(`GET blob: more than the ${want} bytes announced`));
      else if (got === want)
        finish(want === blob.size ? undefined : new Error(`GET blob: ${want} of ${blob.size} bytes`));
      return !done;
    };
    const socket = connect({ host: url.hostname, port: Number(url.port), onread: { buffer, callback: onread } });
    socket.once('connect', () => socket.write(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`));
    socket.once('error', (err) => finish(err));
    socket.once('close', () => finish(new Error(`GET blob: connection closed after ${got} of ${want} body bytes`)));
  });
}

async function deleteBlob(host: string, repo: string, blob: BlobSource): Promise<void> {
  const r = await request(`http://${host}/v2/${repo}/blobs/${blob.digest}`, { method: 'DELETE' });
  await r.body.dump();
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

/** Writes back every dirty page (sync(1)): what one peer's push left for the kernel to flush is not flushed during another's timing. */
async function settle(): Promise<void> {
  await execFileP('sync');
}

/**
 * Push then pull `blob` on every peer, `rounds` times, interleaved: each round measures every peer
 * once, the order reversed from one round to the next (A B, B A, A B, …), so a change of load on
 * the machine during the run falls on both sides alike. Each push goes to a fresh repository;
 * the disk is settled (sync, not timed) after each push and before the next measurement. Returns
 * every peer's best MB/s of each, by name.
 */
export async function blobThroughput(
  regs: RegistryProcess[],
  blob: BlobSource,
  rounds: number
): Promise<Record<string, { push: number; pull: number; pushes: number[]; pulls: number[] }>> {
  const out: Record<string, { push: number; pull: number; pushes: number[]; pulls: number[] }> = {};
  for (const reg of regs) out[reg.name] = { push: 0, pull: 0, pushes: [], pulls: [] };
  for (let i = 0; i < rounds; i++) {
    const order = i % 2 === 0 ? regs : [...regs].reverse();
    for (const reg of order) {
      const r = out[reg.name]!;
      const repo = `bench/blob${i}-${Date.now()}`;
      await settle();
      const tp = await timed(() => pushBlob(reg.host, repo, blob));
      await settle();
      const tg = await timed(() => pullBlob(reg.host, repo, blob));
      r.pushes.push(blob.size / MiB / tp);
      r.pulls.push(blob.size / MiB / tg);
      r.push = Math.max(...r.pushes);
      r.pull = Math.max(...r.pulls);
      await deleteBlob(reg.host, repo, blob);
    }
  }
  return out;
}

/** Pushes a tiny image and returns the manifest URL. */
export async function pushSmallManifest(host: string): Promise<string> {
  const repo = 'bench/small';
  // an empty JSON config keeps distribution happy with its media type checks
  const cfgBytes = Buffer.from('{}');
  const cfgDigest = `sha256:${createHash('sha256').update(cfgBytes).digest('hex')}`;
  const start = await request(`http://${host}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  await start.body.dump();
  const loc = new URL(String(start.headers.location), `http://${host}`);
  loc.searchParams.set('digest', cfgDigest);
  const put = await request(loc, {
    method: 'PUT',
    body: cfgBytes,
    headers: { 'content-type': 'application/octet-stream' },
  });
  await put.body.dump();
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: cfgDigest, size: 2 },
      layers: [],
    })
  );
  const mput = await request(`http://${host}/v2/${repo}/manifests/v1`, {
    method: 'PUT',
    body: manifest,
    headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
  });
  await mput.body.dump();
  if (mput.statusCode !== 201) throw new Error(`PUT manifest: ${mput.statusCode}`);
  return `http://${host}/v2/${repo}/manifests/v1`;
}

/** Manifest GETs per second at 32 connections, measured with Debian's wrk. */
export async function manifestRps(url: string, seconds: number): Promise<number> {
  const { stdout } = await execFileP('wrk', [
    '-t2',
    '-c32',
    `-d${seconds}s`,
    '-H',
    'Accept: application/vnd.oci.image.manifest.v1+json',
    url,
  ]);
  const m = /Requests\/sec:\s+([\d.]+)/.exec(stdout);
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(stdout);
  if (!m) throw new Error(`wrk printed no rate:\n${stdout}`);
  if (non2xx) throw new Error(`wrk saw ${non2xx[1]} error responses from ${url}`);
  return Number(m[1]);
}

/**
 * Manifest GETs per second of each URL, after a warm-up of each, in alternating rounds (A B, B A,
 * …) so that a change of load on the machine falls on every side alike: the best round of each.
 */
export async function manifestRpsAlternating(urls: string[], rounds: number, seconds: number): Promise<number[]> {
  for (const url of urls) await manifestRps(url, 2); // warm-up
  const best = urls.map(() => 0);
  for (let i = 0; i < rounds; i++) {
    const order = urls.map((_, k) => k);
    for (const k of i % 2 === 0 ? order : order.reverse())
      best[k] = Math.max(best[k]!, await manifestRps(urls[k]!, seconds));
  }
  return best;
}

export { pushBlob, pullBlob };
