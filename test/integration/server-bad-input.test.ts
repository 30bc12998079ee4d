import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { join, relative } from 'node:path';
import { startServe, type Served } from '../helpers/serve.ts';

const sha = (b: Buffer | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const OCI = 'application/vnd.oci.image.manifest.v1+json';
const INDEX = 'application/vnd.oci.image.index.v1+json';

interface Res {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A raw HTTP request: the path goes on the wire exactly as given (no normalisation). */
function raw(
  host: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: Buffer | string
): Promise<Res> {
  const [hostname, port] = host.split(':');
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        hostname,
        port: Number(port),
        method,
        path,
        headers: { ...headers, ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}) },
      },
      (res) => {
        let data = '';
        res.on('data', (c: Buffer) => (data += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: data }));
      }
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Everything stored (blobs, links, tags, referrers) with a hash of each file's content. */
async function snapshot(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      const p = join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else out.push(`${relative(root, p)} ${sha(await readFile(p))}`);
    }
  };
  await walk(join(root, 'blobs'));
  await walk(join(root, 'repositories'));
  return out.sort();
}

function manifest(
  layers: Array<{ digest: string; size: number; mediaType?: string }>,
  extra: Record<string, unknown> = {}
): string {
  return JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI,
    config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha('{}'), size: 2 },
    layers: layers.map((l) => ({ mediaType: l.mediaType ?? 'application/octet-stream', ...l })),
    ...extra,
  });
}

describe('signet serve refuses malformed requests with the spec error and leaves the store unchanged', () => {
  let s: Served;
  const blob = Buffer.from('hello');
  let otherRepoUpload = '';

  async function newUpload(repo = 'good/repo'): Promise<string> {
    const r = await raw(s.host, 'POST', `/v2/${repo}/blobs/uploads/`);
    return String(r.headers.location);
  }

  beforeAll(async () => {
    s = await startServe();
    const up = await newUpload();
    expect((await raw(s.host, 'PUT', `${up}?digest=${sha(blob)}`, {}, blob)).status).toBe(201);
    expect((await raw(s.host, 'POST', `/v2/good/repo/blobs/uploads/?digest=${sha('{}')}`, {}, '{}')).status).toBe(201);
    const m = manifest([{ digest: sha(blob), size: blob.length }]);
    expect((await raw(s.host, 'PUT', '/v2/good/repo/manifests/v1', { 'content-type': OCI }, m)).status).toBe(201);
    otherRepoUpload = (await newUpload('other/repo')).split('/').pop()!;
  });
  afterAll(async () => s?.close());

  const missing = sha('not stored');
  type Case = [
    name: string,
    method: string,
    path: string | (() => Promise<string>),
    headers: Record<string, string>,
    body: string | Buffer | undefined,
    status: number,
    code: string | null,
  ];
  const cases: Case[] = [
    ['blob GET with a short digest', 'GET', '/v2/good/repo/blobs/sha256:abc', {}, undefined, 400, 'DIGEST_INVALID'],
    [
      'blob GET with an unknown algorithm',
      'GET',
      '/v2/good/repo/blobs/md5:d41d8cd98f00b204e9800998ecf8427e',
      {},
      undefined,
      400,
      'DIGEST_INVALID',
    ],
    [
      'blob GET with upper-case hex',
      'GET',
      `/v2/good/repo/blobs/${sha(blob).toUpperCase().replace('SHA256', 'sha256')}`,
      {},
      undefined,
      400,
      'DIGEST_INVALID',
    ],
    ['blob GET unknown', 'GET', `/v2/good/repo/blobs/${missing}`, {}, undefined, 404, 'BLOB_UNKNOWN'],
    [
      'blob GET of a blob linked only in another repo',
      'GET',
      `/v2/other/repo/blobs/${sha(blob)}`,
      {},
      undefined,
      404,
      'BLOB_UNKNOWN',
    ],
    ['blob DELETE unknown', 'DELETE', `/v2/good/repo/blobs/${missing}`, {}, undefined, 404, 'BLOB_UNKNOWN'],
    [
      'blob GET with an unsatisfiable range',
      'GET',
      `/v2/good/repo/blobs/${sha(blob)}`,
      { range: 'bytes=100-200' },
      undefined,
      416,
      'BLOB_UNKNOWN',
    ],
    [
      'monolithic upload whose content does not match its digest',
      'POST',
      `/v2/good/repo/blobs/uploads/?digest=${sha('other')}`,
      {},
      'tampered',
      400,
      'DIGEST_INVALID',
    ],
    [
      'monolithic upload with a malformed digest',
      'POST',
      '/v2/good/repo/blobs/uploads/?digest=sha256:zz',
      {},
      'x',
      400,
      'DIGEST_INVALID',
    ],
    [
      'upload completed with the wrong digest',
      'PUT',
      async () => `${await newUpload()}?digest=${sha('other')}`,
      {},
      'content',
      400,
      'DIGEST_INVALID',
    ],
    ['upload completed without a digest', 'PUT', async () => await newUpload(), {}, 'content', 400, 'DIGEST_INVALID'],
    [
      'chunk that does not start at the upload offset',
      'PATCH',
      async () => await newUpload(),
      { 'content-range': '5-9' },
      '12345',
      416,
      'BLOB_UPLOAD_INVALID',
    ],
    [
      'chunk with a malformed Content-Range',
      'PATCH',
      async () => await newUpload(),
      { 'content-range': 'bytes=x-y' },
      '12345',
      416,
      'BLOB_UPLOAD_INVALID',
    ],
    [
      'chunk whose Content-Range disagrees with its length',
      'PATCH',
      async () => await newUpload(),
      { 'content-range': '0-9' },
      '12345',
      416,
      'BLOB_UPLOAD_INVALID',
    ],
    [
      'chunk with a reversed Content-Range',
      'PATCH',
      async () => await newUpload(),
      { 'content-range': '4-0' },
      '12345',
      416,
      'BLOB_UPLOAD_INVALID',
    ],
    [
      'chunk for an unknown upload',
      'PATCH',
      '/v2/good/repo/blobs/uploads/00000000-0000-0000-0000-000000000000',
      {},
      'x',
      404,
      'BLOB_UPLOAD_UNKNOWN',
    ],
    [
      'chunk for an upload of another repository',
      'PATCH',
      async () => `/v2/good/repo/blobs/uploads/${otherRepoUpload}`,
      {},
      'x',
      404,
      'BLOB_UPLOAD_UNKNOWN',
    ],
    [
      'upload id that walks out of the uploads dir',
      'GET',
      '/v2/good/repo/blobs/uploads/..',
      {},
      undefined,
      404,
      'BLOB_UPLOAD_UNKNOWN',
    ],
    [
      'manifest over 4 MiB',
      'PUT',
      '/v2/good/repo/manifests/big',
      { 'content-type': OCI },
      Buffer.alloc(4 * 1024 * 1024 + 1, 32),
      413,
      'SIZE_INVALID',
    ],
    [
      'manifest referencing a blob that is not there',
      'PUT',
      '/v2/good/repo/manifests/v2',
      { 'content-type': OCI },
      manifest([{ digest: missing, size: 10 }]),
      400,
      'MANIFEST_BLOB_UNKNOWN',
    ],
    [
      'manifest with a layer size that differs from the blob',
      'PUT',
      '/v2/good/repo/manifests/v2',
      { 'content-type': OCI },
      manifest([{ digest: sha(blob), size: 99 }]),
      400,
      'MANIFEST_INVALID',
    ],
    [
      'manifest that is not JSON',
      'PUT',
      '/v2/good/repo/manifests/v2',
      { 'content-type': OCI },
      '{"schemaVersion":2,',
      400,
      'MANIFEST_INVALID',
    ],
    [
      'manifest with schemaVersion 1',
      'PUT',
      '/v2/good/repo/manifests/v2',
      { 'content-type': OCI },
      manifest([]).replace('"schemaVersion":2', '"schemaVersion":1'),
      400,
      'MANIFEST_INVALID',
    ],
    [
      'manifest with layers null',
      'PUT',
      '/v2/good/repo/manifests/v2',
      { 'content-type': OCI },
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI,
        config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha('{}'), size: 2 },
        layers: null,
      }),
      400,
      'MANIFEST_INVALID',
    ],
    [
      'manifest with a malformed layer digest',
      'PUT',
      '/v2/good/repo/manifests/v2',
      { 'content-type': OCI },
      manifest([{ digest: 'sha256:xyz', size: 1 }]),
      400,
      'MANIFEST_INVALID',
    ],
    [
      'manifest with a negative size',
      'PUT',
      '/v2/good/repo/manifests/v2',
      { 'content-type': OCI },
      manifest([{ digest: sha(blob), size: -5 }]),
      400,
      'MANIFEST_INVALID',
    ],
    [
      'manifest whose mediaType differs from its Content-Type',
      'PUT',
      '/v2/good/repo/manifests/v2',
      { 'content-type': INDEX },
      manifest([]),
      400,
      'MANIFEST_INVALID',
    ],
    [
      'manifest of an unknown media type',
      'PUT',
      '/v2/good/repo/manifests/v2',
      { 'content-type': 'application/x-unknown' },
      manifest([]),
      400,
      'MANIFEST_INVALID',
    ],
    [
      'manifest pushed by a digest that does not match it',
      'PUT',
      `/v2/good/repo/manifests/${missing}`,
      { 'content-type': OCI },
      manifest([]),
      400,
      'DIGEST_INVALID',
    ],
    [
      'index listing a manifest that is not there',
      'PUT',
      '/v2/good/repo/manifests/idx',
      { 'content-type': INDEX },
      JSON.stringify({ schemaVersion: 2, mediaType: INDEX, manifests: [{ mediaType: OCI, digest: missing, size: 3 }] }),
      400,
      'MANIFEST_UNKNOWN',
    ],
    [
      'manifest under a tag starting with a dash',
      'PUT',
      '/v2/good/repo/manifests/-bad',
      { 'content-type': OCI },
      manifest([]),
      400,
      'MANIFEST_INVALID',
    ],
    [
      'manifest under a 129-character tag',
      'PUT',
      `/v2/good/repo/manifests/${'a'.repeat(129)}`,
      { 'content-type': OCI },
      manifest([]),
      400,
      'MANIFEST_INVALID',
    ],
    ['manifest GET of an unknown tag', 'GET', '/v2/good/repo/manifests/nope', {}, undefined, 404, 'MANIFEST_UNKNOWN'],
    [
      'manifest DELETE of an unknown digest',
      'DELETE',
      `/v2/good/repo/manifests/${missing}`,
      {},
      undefined,
      404,
      'MANIFEST_UNKNOWN',
    ],
    ['upper-case repository name', 'GET', '/v2/Good/Repo/tags/list', {}, undefined, 400, 'NAME_INVALID'],
    [
      'path traversal in the repository name',
      'GET',
      '/v2/good/../../etc/tags/list',
      {},
      undefined,
      400,
      'NAME_INVALID',
    ],
    [
      'encoded traversal in the repository name',
      'GET',
      '/v2/good/%2e%2e/x/manifests/v1',
      {},
      undefined,
      400,
      'NAME_INVALID',
    ],
    ['traversal in an upload path', 'POST', '/v2/../../blobs/uploads/', {}, 'x', 400, 'NAME_INVALID'],
    [
      'empty path component in the repository name',
      'GET',
      '/v2/good//repo/manifests/v1',
      {},
      undefined,
      400,
      'NAME_INVALID',
    ],
    ['tags of an unknown repository', 'GET', '/v2/no/such/repo/tags/list', {}, undefined, 404, 'NAME_UNKNOWN'],
    [
      'tags with a non-numeric page size',
      'GET',
      '/v2/good/repo/tags/list?n=abc',
      {},
      undefined,
      400,
      'PAGINATION_NUMBER_INVALID',
    ],
    [
      'referrers of a malformed digest',
      'GET',
      '/v2/good/repo/referrers/sha256:123',
      {},
      undefined,
      400,
      'DIGEST_INVALID',
    ],
    ['POST on the catalog', 'POST', '/v2/_catalog', {}, 'x', 405, 'UNSUPPORTED'],
    ['PATCH on a blob', 'PATCH', `/v2/good/repo/blobs/${sha(blob)}`, {}, 'x', 405, 'UNSUPPORTED'],
  ];

  it('has at least 30 cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(30);
  });

  it.each(cases)('%s → %i %s', async (_name, method, path, headers, body, status, code) => {
    const p = typeof path === 'string' ? path : await path();
    const before = await snapshot(s.root);
    const r = await raw(s.host, method, p, headers, body);
    expect(r.status).toBe(status);
    if (code) expect((JSON.parse(r.body) as { errors: Array<{ code: string }> }).errors[0]!.code).toBe(code);
    expect(await snapshot(s.root)).toEqual(before);
  });

  async function truncated(
    method: string,
    path: string,
    headers: Record<string, string>,
    declared: number,
    sent: Buffer
  ): Promise<void> {
    const [hostname, port] = s.host.split(':');
    await new Promise<void>((resolve) => {
      const sock = connect(Number(port), hostname!, () => {
        const head = [
          `${method} ${path} HTTP/1.1`,
          `Host: ${s.host}`,
          `Content-Length: ${declared}`,
          ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
          '',
          '',
        ].join('\r\n');
        sock.write(head);
        sock.write(sent, () => setTimeout(() => sock.destroy(), 100));
      });
      sock.on('close', () => resolve());
      sock.on('error', () => resolve());
    });
    await new Promise((r) => setTimeout(r, 200));
  }

  it('a manifest body cut short leaves nothing behind', async () => {
    const before = await snapshot(s.root);
    await truncated(
      'PUT',
      '/v2/good/repo/manifests/cut',
      { 'Content-Type': OCI },
      1000,
      Buffer.from(manifest([]).slice(0, 50))
    );
    expect(await snapshot(s.root)).toEqual(before);
    expect((await raw(s.host, 'GET', '/v2/good/repo/manifests/cut')).status).toBe(404);
  });

  it('a chunk cut short leaves the upload where it was', async () => {
    const up = await newUpload();
    await truncated('PATCH', up, {}, 1_000_000, Buffer.alloc(50_000, 1));
    const status = await raw(s.host, 'GET', up);
    expect(status.status).toBe(204);
    expect(status.headers.range).toBe('0-0');
    const data = join(s.root, 'uploads', up.split('/').pop()!, 'data');
    expect((await stat(data)).size).toBe(0);
    // and the session is still usable
    const ok = await raw(s.host, 'PUT', `${up}?digest=${sha('abc')}`, {}, 'abc');
    expect(ok.status).toBe(201);
  });

  it('a monolithic upload cut short stores nothing', async () => {
    const before = await snapshot(s.root);
    await truncated(
      'POST',
      `/v2/good/repo/blobs/uploads/?digest=${sha(Buffer.alloc(100_000, 2))}`,
      {},
      100_000,
      Buffer.alloc(10_000, 2)
    );
    expect(await snapshot(s.root)).toEqual(before);
  });
});
