import { createHash, randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
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

async function pullBlob(host: string, repo: string, blob: BlobSource): Promise<void> {
  const r = await request(`http://${host}/v2/${repo}/blobs/${blob.digest}`, { maxRedirections: 0 } as never);
  if (r.statusCode !== 200) throw new Error(`GET blob: ${r.statusCode}`);
  let n = 0;
  for await (const chunk of r.body) n += (chunk as Buffer).length;
  if (n !== blob.size) throw new Error(`GET blob: ${n} of ${blob.size} bytes`);
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

/** Push then pull `blob` `rounds` times; returns the best MB/s of each (fresh repository per round). */
export async function blobThroughput(
  reg: RegistryProcess,
  blob: BlobSource,
  rounds: number
): Promise<{ push: number; pull: number }> {
  let push = 0;
  let pull = 0;
  for (let i = 0; i < rounds; i++) {
    const repo = `bench/blob${i}-${Date.now()}`;
    const tp = await timed(() => pushBlob(reg.host, repo, blob));
    const tg = await timed(() => pullBlob(reg.host, repo, blob));
    push = Math.max(push, blob.size / MiB / tp);
    pull = Math.max(pull, blob.size / MiB / tg);
    await deleteBlob(reg.host, repo, blob);
  }
  return { push, pull };
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

export { pushBlob, pullBlob };
