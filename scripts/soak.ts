/**
 * `npm run soak [-- --seconds N] [-- --clients N]`: a soak of `signet serve` (issue 13, item 5).
 *
 * Starts `signet serve` as its own process on 127.0.0.1 with a temp root and runs N concurrent
 * clients (default 64) for the given time (default 60 s): each pushes blobs (monolithic, two-step
 * and chunked uploads) and manifests, pulls them back byte for byte (whole and by Range), tags,
 * deletes tags, blobs and manifests, pushes referrers and lists them, lists tags; malformed requests
 * are mixed in (bad digests, bad JSON manifests, digest mismatches, wrong Content-Length, bad Range
 * headers, garbage paths, oversized headers) and some uploads are dropped mid-body.
 *
 * Afterwards: the server still answers, its RSS and open file descriptors (/proc/<pid>) are back
 * near where they started, every acknowledged write that was not deleted reads back byte for byte
 * (blobs, manifests by digest, tags, referrers), and fsck of the root is clean. Prints requests
 * served, answers by status and error code, peak RSS and fds, and last `soak: OK` or
 * `soak: FAILED (<why>)`; exit code 0 or 1.
 */
import type { ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { fsck } from '../src/server/index.ts';
import { spawnServe } from '../test/helpers/serve.ts';

const MANIFEST_TYPE = 'application/vnd.oci.image.manifest.v1+json';
const EMPTY_CONFIG = '{}';
const MiB = 1024 * 1024;

interface Options {
  seconds: number;
  clients: number;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { seconds: 60, clients: 64 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): number => {
      const v = Number(a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i]);
      if (!Number.isFinite(v) || v <= 0) throw new Error(`${a} needs a positive number`);
      return v;
    };
    if (a.startsWith('--seconds')) o.seconds = value();
    else if (a.startsWith('--clients')) o.clients = Math.floor(value());
    else throw new Error(`unknown argument ${a} (--seconds N, --clients N)`);
  }
  return o;
}

const sha256 = (b: Uint8Array | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)]!;
const chance = (p: number): boolean => Math.random() < p;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// --- the server process ---------------------------------------------------------------------------

/** A signet serve of its own (the test helper's), its exit code once stopped with SIGTERM. */
async function startServer(
  root: string
): Promise<{ child: ChildProcess; host: string; stop(): Promise<number | null> }> {
  const s = await spawnServe(root, ['--log-level', 'error']);
  return {
    child: s.child,
    host: s.host,
    stop: async () => {
      await s.kill('SIGTERM');
      return s.child.exitCode;
    },
  };
}

function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

function fdsOf(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

// --- bookkeeping -------------------------------------------------------------------------------------

class Stats {
  requests = 0;
  byStatus = new Map<string, number>();
  errorsByCode = new Map<string, number>();
  droppedUploads = 0;
  malformed = 0;
  failures: string[] = [];
  /** An answer; status 0: the connection closed without one (a raw request the client dropped). */
  count(status: number, body?: string): void {
    this.requests++;
    if (status === 0) {
      this.errorsByCode.set('no answer', (this.errorsByCode.get('no answer') ?? 0) + 1);
      return;
    }
    const key = String(status);
    this.byStatus.set(key, (this.byStatus.get(key) ?? 0) + 1);
    if (status >= 400) {
      let code = `HTTP ${status}`;
      try {
        const e = (JSON.parse(body ?? '') as { errors?: Array<{ code?: unknown }> }).errors?.[0]?.code;
        if (typeof e === 'string') code = e;
      } catch {
        // not an OCI error body
      }
      this.errorsByCode.set(code, (this.errorsByCode.get(code) ?? 0) + 1);
    }
  }
  fail(why: string): void {
    if (this.failures.length < 50) this.failures.push(why);
  }
}

/** What one client has had acknowledged (and not deleted since): checked at the end. */
interface Acked {
  repo: string;
  blobs: Map<string, Uint8Array>;
  /** Blobs a manifest references: never deleted by the client. */
  pinned: Set<string>;
  manifests: Map<string, Uint8Array>;
  /** referrer digest → subject digest */
  subjects: Map<string, string>;
  tags: Map<string, string>;
}

// --- the HTTP client -------------------------------------------------------------------------------

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

class Client {
  constructor(
    private readonly base: string,
    private readonly dispatcher: Agent,
    private readonly stats: Stats
  ) {}

  async send(
    method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE',
    path: string,
    opts: { body?: Uint8Array | string; headers?: Record<string, string> } = {}
  ): Promise<Answer> {
    const r = await request(`${this.base}${path}`, {
      method,
      dispatcher: this.dispatcher,
      headers: opts.headers ?? {},
      ...(opts.body !== undefined ? { body: opts.body } : {}),
      headersTimeout: 60_000,
      bodyTimeout: 60_000,
    });
    const body = Buffer.from(await r.body.arrayBuffer());
    this.stats.count(r.statusCode, r.statusCode >= 400 ? body.toString('utf8') : undefined);
    return { status: r.statusCode, headers: r.headers, body };
  }
}

const location = (a: Answer): string => {
  const l = a.headers.location;
  if (typeof l !== 'string') throw new Error(`no Location in a ${a.status} answer`);
  return l.startsWith('http') ? new URL(l).pathname + new URL(l).search : l;
};
const withQuery = (path: string, q: string): string => `${path}${path.includes('?') ? '&' : '?'}${q}`;

// --- well-formed operations ------------------------------------------------------------------------

function randomBlob(): Uint8Array {
  const size = chance(0.1) ? Math.floor(Math.random() * 2 * MiB) : Math.floor(Math.random() * 64 * 1024);
  return new Uint8Array(randomBytes(size));
}

async function pushBlob(c: Client, a: Acked, stats: Stats, blob = randomBlob()): Promise<string | null> {
  const digest = sha256(blob);
  const how = pick(['monolithic', 'two-step', 'chunked'] as const);
  let r: Answer;
  if (how === 'monolithic') {
    r = await c.send('POST', `/v2/${a.repo}/blobs/uploads/?digest=${digest}`, {
      body: blob,
      headers: { 'content-type': 'application/octet-stream' },
    });
  } else {
    const start = await c.send('POST', `/v2/${a.repo}/blobs/uploads/`);
    if (start.status !== 202) return unexpected(stats, 'POST upload', start);
    let loc = location(start);
    if (how === 'chunked' && blob.length > 1) {
      const cut = Math.floor(blob.length / 2);
      const p = await c.send('PATCH', loc, {
        body: blob.subarray(0, cut),
        headers: { 'content-type': 'application/octet-stream', 'content-range': `0-${cut - 1}` },
      });
      if (p.status !== 202) return unexpected(stats, 'PATCH upload', p);
      loc = location(p);
      r = await c.send('PUT', withQuery(loc, `digest=${digest}`), {
        body: blob.subarray(cut),
        headers: { 'content-type': 'application/octet-stream' },
      });
    } else {
      r = await c.send('PUT', withQuery(loc, `digest=${digest}`), {
        body: blob,
        headers: { 'content-type': 'application/octet-stream' },
      });
    }
  }
  if (r.status !== 201) return unexpected(stats, `${how} blob upload`, r);
  a.blobs.set(digest, blob);
  return digest;
}

function unexpected(stats: Stats, what: string, r: Answer): null {
  stats.fail(`${what}: HTTP ${r.status} ${r.body.toString('utf8').slice(0, 200)}`);
  return null;
}

async function pushManifest(c: Client, a: Acked, stats: Stats, subject?: string): Promise<string | null> {
  const config = new TextEncoder().encode(EMPTY_CONFIG);
  const configDigest = await pushBlob(c, a, stats, config);
  const layer = await pushBlob(c, a, stats);
  if (!configDigest || !layer) return null;
  a.pinned.add(configDigest).add(layer);
  const m: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType: MANIFEST_TYPE,
    config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: configDigest, size: config.length },
    layers: [{ mediaType: 'application/octet-stream', digest: layer, size: a.blobs.get(layer)!.length }],
    annotations: { 'soak.nonce': randomBytes(8).toString('hex') },
  };
  if (subject) {
    m.artifactType = 'application/vnd.signet.soak';
    m.subject = { mediaType: MANIFEST_TYPE, digest: subject, size: a.manifests.get(subject)!.length };
  }
  const bytes = new TextEncoder().encode(JSON.stringify(m));
  const digest = sha256(bytes);
  const tag = !subject && chance(0.6) ? `t${Math.floor(Math.random() * 4)}` : undefined;
  const r = await c.send('PUT', `/v2/${a.repo}/manifests/${tag ?? digest}`, {
    body: bytes,
    headers: { 'content-type': MANIFEST_TYPE },
  });
  if (r.status !== 201) return unexpected(stats, 'manifest PUT', r);
  if (r.headers['docker-content-digest'] !== digest)
    stats.fail(`manifest PUT answered Docker-Content-Digest ${String(r.headers['docker-content-digest'])}`);
  a.manifests.set(digest, bytes);
  if (tag) a.tags.set(tag, digest);
  if (subject) a.subjects.set(digest, subject);
  return digest;
}

async function pullBlob(c: Client, a: Acked, stats: Stats): Promise<void> {
  if (!a.blobs.size) return;
  const [digest, blob] = pick([...a.blobs]);
  if (blob.length > 2 && chance(0.3)) {
    const start = Math.floor(Math.random() * blob.length);
    const end = start + Math.floor(Math.random() * (blob.length - start));
    const r = await c.send('GET', `/v2/${a.repo}/blobs/${digest}`, { headers: { range: `bytes=${start}-${end}` } });
    if (r.status !== 206 || !r.body.equals(blob.subarray(start, end + 1)))
      stats.fail(`range GET ${digest} ${start}-${end}: HTTP ${r.status}, ${r.body.length} bytes`);
    return;
  }
  const r = await c.send('GET', `/v2/${a.repo}/blobs/${digest}`);
  if (r.status !== 200 || !r.body.equals(blob))
    stats.fail(`GET blob ${digest}: HTTP ${r.status}, ${r.body.length} bytes`);
}

async function pullManifest(c: Client, a: Acked, stats: Stats): Promise<void> {
  const byTag = a.tags.size && chance(0.5);
  const [ref, digest] = byTag
    ? pick([...a.tags])
    : a.manifests.size
      ? ((d) => [d, d])(pick([...a.manifests.keys()]))
      : [];
  if (!ref || !digest) return;
  const r = await c.send('GET', `/v2/${a.repo}/manifests/${ref}`, { headers: { accept: MANIFEST_TYPE } });
  if (r.status !== 200 || !r.body.equals(a.manifests.get(digest)!))
    stats.fail(`GET manifest ${ref}: HTTP ${r.status}, ${r.body.length} bytes`);
}

async function tagManifest(c: Client, a: Acked, stats: Stats): Promise<void> {
  if (!a.manifests.size) return;
  const digest = pick([...a.manifests.keys()]);
  const tag = `t${Math.floor(Math.random() * 4)}`;
  const r = await c.send('PUT', `/v2/${a.repo}/manifests/${tag}`, {
    body: a.manifests.get(digest)!,
    headers: { 'content-type': MANIFEST_TYPE },
  });
  if (r.status !== 201) return void unexpected(stats, 'tag PUT', r);
  a.tags.set(tag, digest);
}

async function deleteSomething(c: Client, a: Acked, stats: Stats): Promise<void> {
  const what = pick(['tag', 'manifest', 'blob'] as const);
  if (what === 'tag' && a.tags.size) {
    const tag = pick([...a.tags.keys()]);
    const r = await c.send('DELETE', `/v2/${a.repo}/manifests/${tag}`);
    if (r.status !== 202) return void unexpected(stats, 'tag DELETE', r);
    a.tags.delete(tag);
  } else if (what === 'manifest' && a.manifests.size) {
    const digest = pick([...a.manifests.keys()]);
    const r = await c.send('DELETE', `/v2/${a.repo}/manifests/${digest}`);
    if (r.status !== 202) return void unexpected(stats, 'manifest DELETE', r);
    // the server deletes its referrers too, recursively, and the tags that named any of them
    const gone = new Set([digest]);
    for (let grew = true; grew;) {
      grew = false;
      for (const [ref, subj] of a.subjects)
        if (gone.has(subj) && !gone.has(ref)) {
          gone.add(ref);
          grew = true;
        }
    }
    for (const d of gone) {
      a.manifests.delete(d);
      a.subjects.delete(d);
    }
    for (const [t, d] of a.tags) if (gone.has(d)) a.tags.delete(t);
  } else if (what === 'blob') {
    const loose = [...a.blobs.keys()].filter((d) => !a.pinned.has(d));
    if (!loose.length) return;
    const digest = pick(loose);
    const r = await c.send('DELETE', `/v2/${a.repo}/blobs/${digest}`);
    if (r.status !== 202) return void unexpected(stats, 'blob DELETE', r);
    a.blobs.delete(digest);
  }
}

async function referrers(c: Client, a: Acked, stats: Stats): Promise<void> {
  const plain = [...a.manifests.keys()].filter((d) => !a.subjects.has(d));
  if (!plain.length) return;
  const subject = pick(plain);
  if (chance(0.5)) await pushManifest(c, a, stats, subject);
  const r = await c.send('GET', `/v2/${a.repo}/referrers/${subject}`);
  if (r.status !== 200) return void unexpected(stats, 'referrers GET', r);
  checkReferrers(r, a, subject, stats);
}

function checkReferrers(r: Answer, a: Acked, subject: string, stats: Stats): void {
  let listed: Set<string>;
  try {
    const idx = JSON.parse(r.body.toString('utf8')) as { manifests: Array<{ digest: string }> };
    listed = new Set(idx.manifests.map((m) => m.digest));
  } catch {
    return void stats.fail(`referrers of ${subject}: not an index`);
  }
  for (const [ref, subj] of a.subjects)
    if (subj === subject && !listed.has(ref)) stats.fail(`referrers of ${subject} miss ${ref}`);
}

async function listTags(c: Client, a: Acked, stats: Stats): Promise<void> {
  const r = await c.send('GET', `/v2/${a.repo}/tags/list`);
  if (!a.tags.size && r.status === 404) return;
  if (r.status !== 200) return void unexpected(stats, 'tags/list', r);
  const tags = new Set((JSON.parse(r.body.toString('utf8')) as { tags: string[] | null }).tags ?? []);
  for (const t of a.tags.keys()) if (!tags.has(t)) stats.fail(`tags/list of ${a.repo} misses ${t}`);
}

// --- malformed requests ------------------------------------------------------------------------------

/** Sends raw bytes on a fresh socket; resolves with the status line's code (0: none) once closed. */
function raw(host: string, bytes: Uint8Array | string, opts: { destroyAfterMs?: number } = {}): Promise<number> {
  const [h, p] = host.split(':');
  return new Promise((res) => {
    const s = connect({ host: h, port: Number(p) });
    let got = '';
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(guard);
      s.destroy();
      const m = /^HTTP\/1\.1 (\d{3})/.exec(got);
      res(m ? Number(m[1]) : 0);
    };
    const guard = setTimeout(finish, 30_000);
    s.on('data', (b: Buffer) => {
      got += b.toString('latin1');
      if (got.length > 4096) finish();
    });
    s.on('error', finish);
    s.on('close', finish);
    s.on('connect', () => {
      s.write(bytes);
      if (opts.destroyAfterMs !== undefined) setTimeout(finish, opts.destroyAfterMs);
    });
  });
}

async function malformed(c: Client, a: Acked, host: string, stats: Stats): Promise<void> {
  stats.malformed++;
  const kind = Math.floor(Math.random() * 12);
  const expect4xx = (what: string, r: Answer | number): void => {
    const status = typeof r === 'number' ? r : r.status;
    if (typeof r === 'number') stats.count(status);
    if (status < 400 || status >= 500) stats.fail(`${what}: HTTP ${status} (a 4xx refusal expected)`);
  };
  const known = a.blobs.size ? pick([...a.blobs.keys()]) : sha256('none');
  switch (kind) {
    case 0:
      return expect4xx(
        'bad digest',
        await c.send('GET', `/v2/${a.repo}/blobs/${pick(['sha256:xyz', 'md5:00', 'sha256:', ':'])}`)
      );
    case 1:
      return expect4xx(
        'bad JSON manifest',
        await c.send('PUT', `/v2/${a.repo}/manifests/bad`, {
          body: pick(['{', '[]', 'null', '{"schemaVersion":2,"layers":7}', '\u0000', '{"a":'.repeat(5000)]),
          headers: { 'content-type': MANIFEST_TYPE },
        })
      );
    case 2: {
      const body = JSON.stringify({ schemaVersion: 2, mediaType: MANIFEST_TYPE, config: {}, layers: [] });
      return expect4xx(
        'manifest digest mismatch',
        await c.send('PUT', `/v2/${a.repo}/manifests/${sha256('other')}`, {
          body,
          headers: { 'content-type': MANIFEST_TYPE },
        })
      );
    }
    case 3:
      return expect4xx(
        'blob digest mismatch',
        await c.send('POST', `/v2/${a.repo}/blobs/uploads/?digest=${sha256('not this')}`, {
          body: randomBytes(1000),
          headers: { 'content-type': 'application/octet-stream' },
        })
      );
    case 4: {
      // a Range the server must refuse (416) or ignore (200 with the whole blob): never a 5xx
      const range = pick([
        'bytes=abc',
        'bytes=5-2',
        'bytes=999999999-',
        'items=0-1',
        'bytes=-',
        'bytes=0-1,2-3',
        'bytes=--1',
      ]);
      const r = await c.send('GET', `/v2/${a.repo}/blobs/${known}`, { headers: { range } });
      if (r.status >= 500) stats.fail(`Range ${range}: HTTP ${r.status}`);
      return;
    }
    case 5: {
      const path = pick([
        '/v2/../../etc/passwd',
        '/v2/%2e%2e/blobs/x',
        '/v2/a//b/manifests/x',
        `/v2/${'a/'.repeat(300)}manifests/x`,
        '/v2/UPPER/tags/list',
        `/v2/${randomBytes(12).toString('base64url')}/nothing`,
        '/v3/',
        `/v2/${a.repo}/manifests/${'t'.repeat(300)}`,
      ]);
      const r = await c.send('GET', path);
      if (r.status < 400 || r.status >= 500) stats.fail(`garbage path ${path}: HTTP ${r.status}`);
      return;
    }
    case 6: {
      // Content-Length larger than the body, then half-close: the server must not hang or crash
      const head = `PUT /v2/${a.repo}/manifests/cl HTTP/1.1\r\nHost: ${host}\r\nContent-Type: ${MANIFEST_TYPE}\r\nContent-Length: 500\r\nConnection: close\r\n\r\n{"schemaVersion":2}`;
      stats.count(await raw(host, head, { destroyAfterMs: 200 }));
      return;
    }
    case 7: {
      // Content-Length smaller than the body: the rest is a garbage second request
      const body = '{"schemaVersion":2,"mediaType":"x"}';
      const head = `PUT /v2/${a.repo}/manifests/cl2 HTTP/1.1\r\nHost: ${host}\r\nContent-Type: ${MANIFEST_TYPE}\r\nContent-Length: 5\r\nConnection: close\r\n\r\n${body}`;
      return expect4xx('short Content-Length', await raw(host, head));
    }
    case 8: {
      // an upload dropped mid-body
      stats.droppedUploads++;
      const start = await c.send('POST', `/v2/${a.repo}/blobs/uploads/`);
      if (start.status !== 202) return void unexpected(stats, 'POST upload', start);
      const loc = location(start);
      const verb = chance(0.5) ? 'PATCH' : 'PUT';
      const q = verb === 'PUT' ? withQuery(loc, `digest=${sha256('dropped')}`) : loc;
      const head = `${verb} ${q} HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/octet-stream\r\nContent-Length: ${MiB}\r\n\r\n`;
      await raw(host, Buffer.concat([Buffer.from(head), randomBytes(64 * 1024)]), { destroyAfterMs: 20 });
      stats.requests++;
      return;
    }
    case 9: {
      // a monolithic upload dropped mid-body
      stats.droppedUploads++;
      const head = `POST /v2/${a.repo}/blobs/uploads/?digest=${sha256('dropped2')} HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/octet-stream\r\nContent-Length: ${4 * MiB}\r\n\r\n`;
      await raw(host, Buffer.concat([Buffer.from(head), randomBytes(128 * 1024)]), { destroyAfterMs: 20 });
      stats.requests++;
      return;
    }
    case 10: {
      const status = await raw(
        host,
        pick([
          'GARBAGE\r\n\r\n',
          'GET /v2/ HTTP/9.9\r\n\r\n',
          `GET /v2/ HTTP/1.1\r\nX: ${'a'.repeat(40_000)}\r\n\r\n`,
          '\x16\x03\x01\x02\x00\x01',
        ])
      );
      stats.count(status);
      if (status >= 500 && status !== 505) stats.fail(`garbage request: HTTP ${status}`);
      return;
    }
    default: {
      const r = await c.send('PATCH', `/v2/${a.repo}/blobs/uploads/not-a-session`, {
        body: 'x',
        headers: { 'content-type': 'application/octet-stream', 'content-range': 'bogus' },
      });
      return expect4xx('unknown upload session', r);
    }
  }
}

// --- the run -------------------------------------------------------------------------------------------

async function clientLoop(c: Client, a: Acked, host: string, stats: Stats, deadline: number): Promise<void> {
  while (Date.now() < deadline) {
    const r = Math.random();
    try {
      if (r < 0.15) await malformed(c, a, host, stats);
      else if (r < 0.3) await pushBlob(c, a, stats);
      else if (r < 0.45) await pushManifest(c, a, stats);
      else if (r < 0.57) await pullBlob(c, a, stats);
      else if (r < 0.69) await pullManifest(c, a, stats);
      else if (r < 0.75) await tagManifest(c, a, stats);
      else if (r < 0.83) await deleteSomething(c, a, stats);
      else if (r < 0.93) await referrers(c, a, stats);
      else await listTags(c, a, stats);
    } catch (err) {
      stats.fail(`client ${a.repo}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}

/** Reads back everything a client had acknowledged and not deleted. */
async function readBack(c: Client, a: Acked, stats: Stats): Promise<number> {
  let n = 0;
  for (const [digest, blob] of a.blobs) {
    const r = await c.send('GET', `/v2/${a.repo}/blobs/${digest}`);
    if (r.status !== 200 || !r.body.equals(blob)) stats.fail(`lost blob ${a.repo}@${digest}: HTTP ${r.status}`);
    n++;
  }
  for (const [digest, bytes] of a.manifests) {
    const r = await c.send('GET', `/v2/${a.repo}/manifests/${digest}`, { headers: { accept: MANIFEST_TYPE } });
    if (r.status !== 200 || !r.body.equals(bytes)) stats.fail(`lost manifest ${a.repo}@${digest}: HTTP ${r.status}`);
    n++;
  }
  for (const [tag, digest] of a.tags) {
    const r = await c.send('GET', `/v2/${a.repo}/manifests/${tag}`, { headers: { accept: MANIFEST_TYPE } });
    if (r.status !== 200 || !r.body.equals(a.manifests.get(digest)!))
      stats.fail(`tag ${a.repo}:${tag} does not read back ${digest}: HTTP ${r.status}`);
    n++;
  }
  for (const subject of new Set(a.subjects.values())) {
    const r = await c.send('GET', `/v2/${a.repo}/referrers/${subject}`);
    if (r.status !== 200) stats.fail(`referrers of ${a.repo}@${subject}: HTTP ${r.status}`);
    else checkReferrers(r, a, subject, stats);
    n++;
  }
  return n;
}

const mib = (b: number): string => `${(b / MiB).toFixed(1)} MiB`;

async function main(): Promise<number> {
  const opts = parseArgs(process.argv.slice(2));
  const root = await mkdtemp(join(tmpdir(), 'signet-soak-'));
  const server = await startServer(root);
  const pid = server.child.pid!;
  const base = `http://${server.host}`;
  const stats = new Stats();
  const why: string[] = [];
  let dispatcher = new Agent({ connections: opts.clients * 2, keepAliveTimeout: 4_000 });
  try {
    let c = new Client(base, dispatcher, stats);
    // warm up (JIT, lazily loaded modules) before the baseline
    const warm: Acked = {
      repo: 'soak/warmup',
      blobs: new Map(),
      pinned: new Set(),
      manifests: new Map(),
      subjects: new Map(),
      tags: new Map(),
    };
    for (let i = 0; i < 20; i++) await pushManifest(c, warm, stats);
    await readBack(c, warm, stats);
    await dispatcher.close();
    await sleep(500);
    const startRss = rssOf(pid);
    const startFds = fdsOf(pid);
    let peakRss = startRss;
    let peakFds = startFds;
    const sampler = setInterval(() => {
      try {
        peakRss = Math.max(peakRss, rssOf(pid));
        peakFds = Math.max(peakFds, fdsOf(pid));
      } catch {
        // the process is gone: noticed below
      }
    }, 100);

    dispatcher = new Agent({ connections: opts.clients * 2, keepAliveTimeout: 4_000 });
    c = new Client(base, dispatcher, stats);
    const t0 = Date.now();
    const deadline = t0 + opts.seconds * 1000;
    const acked: Acked[] = Array.from({ length: opts.clients }, (_, i) => ({
      repo: `soak/client-${i}`,
      blobs: new Map(),
      pinned: new Set(),
      manifests: new Map(),
      subjects: new Map(),
      tags: new Map(),
    }));
    await Promise.all(acked.map((a) => clientLoop(c, a, server.host, stats, deadline)));
    const elapsed = (Date.now() - t0) / 1000;
    const duringRun = stats.requests;

    // still answering?
    const ping = await c.send('GET', '/v2/');
    if (ping.status !== 200) why.push(`the server no longer answers /v2/ (HTTP ${ping.status})`);
    let checked = 0;
    for (const a of acked) checked += await readBack(c, a, stats);
    await dispatcher.close();
    clearInterval(sampler);

    // let sockets and dropped uploads settle; then RSS and fds must be back near the start
    let endFds = fdsOf(pid);
    for (let i = 0; i < 100 && endFds > startFds + 2; i++) {
      await sleep(100);
      endFds = fdsOf(pid);
    }
    const endRss = rssOf(pid);
    const rssSlack = Math.max(256 * MiB, startRss * 2);
    if (endFds > startFds + 4) why.push(`open fds ${endFds} after the run, ${startFds} at the start`);
    if (endRss > startRss + rssSlack) why.push(`RSS ${mib(endRss)} after the run, ${mib(startRss)} at the start`);

    const code = await server.stop();
    if (code !== 0) why.push(`signet serve exited with ${code} on SIGTERM`);
    const report = await fsck(root);
    const fsckClean = report.corrupt.length === 0 && report.dangling.length === 0;
    if (!fsckClean)
      why.push(
        `fsck: ${report.corrupt.length} corrupt, ${report.dangling.length} dangling (${[...report.corrupt, ...report.dangling].slice(0, 3).join('; ')})`
      );
    if (stats.failures.length) why.push(`${stats.failures.length} wrong answers, first: ${stats.failures[0]}`);

    const lines = [
      `soak: ${opts.clients} clients for ${elapsed.toFixed(1)} s against signet serve (pid ${pid}, root ${root})`,
      `soak: requests served: ${duringRun} during the run (${(duringRun / elapsed).toFixed(0)}/s), ${stats.requests} with the read-back; ${stats.malformed} malformed, ${stats.droppedUploads} uploads dropped mid-body`,
      `soak: answers by status: ${[...stats.byStatus]
        .sort()
        .map(([k, v]) => `${k}×${v}`)
        .join(' ')}`,
      `soak: errors by code: ${
        [...stats.errorsByCode]
          .sort((x, y) => y[1] - x[1])
          .map(([k, v]) => `${k}×${v}`)
          .join(' ') || 'none'
      }`,
      `soak: RSS start ${mib(startRss)}, peak ${mib(peakRss)}, end ${mib(endRss)}; fds start ${startFds}, peak ${peakFds}, end ${endFds}`,
      `soak: read back ${checked} acknowledged writes (blobs, manifests, tags, referrer lists) byte for byte`,
      `soak: fsck: ${report.objects} objects, ${report.manifests} manifests, ${report.tags} tags, ${report.referrers} referrers, ${report.corrupt.length} corrupt, ${report.dangling.length} dangling, ${report.uploads} upload sessions left`,
    ];
    for (const f of stats.failures.slice(0, 10)) lines.push(`soak: wrong answer: ${f}`);
    lines.push(why.length ? `soak: FAILED (${why.join('; ')})` : 'soak: OK');
    process.stdout.write(`${lines.join('\n')}\n`);
    return why.length ? 1 : 0;
  } finally {
    await server.stop();
    await dispatcher.close().catch(() => undefined);
    await rm(root, { recursive: true, force: true });
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stdout.write(`soak: FAILED (${err instanceof Error ? err.message : String(err)})\n`);
    process.exitCode = 1;
  }
);
