/**
 * HTTP headers the registry client believes: Docker-Content-Digest (resolve, then fetch) and Link
 * (referrers and tags pagination), served by a fake registry on 127.0.0.1 with the fuzzed values;
 * and Range / Content-Range as `signet serve` parses them (a blob GET with a fuzzed Range, an
 * upload PATCH with a fuzzed Content-Range).
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { Agent, request } from 'undici';
import { fetchAll } from '../../../src/store/content.ts';
import { RegistryTarget } from '../../../src/store/registry/target.ts';
import { startRegistry, type RunningRegistry } from '../../../src/server/index.ts';
import { expectModel, OracleViolation, type FuzzTarget } from '../harness.ts';
import { textFrom, utf8 } from '../mutate.ts';

const sha = (b: Uint8Array | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const MANIFEST = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha('{}'), size: 2 },
    layers: [],
  })
);
const MANIFEST_DIGEST = sha(MANIFEST);
const INDEX_TYPE = 'application/vnd.oci.image.index.v1+json';
const REFERRER = {
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  digest: sha('r'),
  size: 1,
  artifactType: 'x/y',
};

/** What Node lets a header carry (no CR, LF, NUL or other controls). */
const headerSafe = (s: string): string => s.replace(/[^\t\x20-\x7e\x80-\xff]/g, '');

// --- client side: Docker-Content-Digest and Link ---------------------------------------------

interface ClientCtx {
  server: Server;
  host: string;
  /** The fuzzed values the fake registry answers with, set per input. */
  digestHeader: string;
  link: string;
  /** Requests answered for the current input: past 200 no more Link (see below). */
  requests: number;
}

export const registryHeaders: FuzzTarget<ClientCtx> = {
  name: 'registry-headers',
  description:
    'Docker-Content-Digest and Link answered by a registry (RegistryTarget resolve/fetch, referrers and tags pagination)',
  weight: 4,
  async setup() {
    const ctx = { digestHeader: '', link: '', requests: 0 } as ClientCtx;
    ctx.server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const path = url.pathname;
      const set = (name: string, v: string): void => {
        if (v) res.setHeader(name, headerSafe(v));
      };
      if (path === '/v2/') return res.writeHead(200).end();
      if (/\/manifests\//.test(path)) {
        set('Docker-Content-Digest', ctx.digestHeader);
        res.writeHead(200, {
          'content-type': 'application/vnd.oci.image.manifest.v1+json',
          'content-length': MANIFEST.length,
        });
        return res.end(req.method === 'HEAD' ? undefined : MANIFEST);
      }
      const page = Number(url.searchParams.get('page') ?? 0);
      // the fuzzed Link on the first two pages, then none (a cycle is the client's to bound)
      // A Link naming the same page again is a cycle; the client bounds referrers at 100 pages but
      // tags only at 10,000 (found by this target: reported, not fixed here), so the fake registry
      // stops linking after 200 requests per input to keep the run short.
      if (page < 2 && ++ctx.requests <= 200) set('Link', ctx.link.replace(/\{page\}/g, String(page + 1)));
      if (/\/referrers\//.test(path)) {
        res.writeHead(200, { 'content-type': INDEX_TYPE });
        return res.end(JSON.stringify({ schemaVersion: 2, mediaType: INDEX_TYPE, manifests: [REFERRER] }));
      }
      if (/\/tags\/list$/.test(path)) {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ name: 'fuzz/app', tags: [`t${page}`] }));
      }
      return res.writeHead(404).end();
    });
    await new Promise<void>((r) => ctx.server.listen(0, '127.0.0.1', r));
    const addr = ctx.server.address();
    ctx.host = `127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
    return ctx;
  },
  teardown: (ctx) =>
    new Promise<void>((r) => {
      ctx.server.closeAllConnections();
      ctx.server.close(() => r());
    }),
  arbitrary: () =>
    textFrom(
      [
        '\n',
        MANIFEST_DIGEST,
        sha('other'),
        'sha256:',
        'sha512:',
        'md5:abc',
        '<',
        '>',
        ';',
        ' rel="next"',
        'rel=next',
        ', ',
        '/v2/fuzz/app/referrers/x?page={page}',
        '/v2/fuzz/app/tags/list?page={page}',
        'http://127.0.0.2:1/v2/x',
        '<<<<',
        '"',
      ],
      [
        `${MANIFEST_DIGEST}\n</v2/fuzz/app/referrers/${MANIFEST_DIGEST}?page={page}>; rel="next"`,
        `${sha('other')}\n</v2/fuzz/app/tags/list?page={page}>; rel="next"`,
        `\n<>; rel=next`,
      ]
    ),
  async run(ctx, input) {
    const text = utf8(input);
    const nl = text.indexOf('\n');
    ctx.digestHeader = nl < 0 ? text : text.slice(0, nl);
    ctx.link = nl < 0 ? '' : text.slice(nl + 1);
    ctx.requests = 0;
    const t = new RegistryTarget({ registry: ctx.host, repository: 'fuzz/app', plainHttp: true, referrers: 'api' });
    try {
      const outcomes: unknown[] = [];
      const step = async (f: () => Promise<void>): Promise<void> => {
        try {
          await f();
        } catch (err) {
          outcomes.push(err);
        }
      };
      await step(async () => {
        const desc = await t.resolve('v1');
        expectModel(typeof desc.digest === 'string' && Number.isSafeInteger(desc.size), 'descriptor');
        // whatever the header said, what is fetched by the descriptor must hash to its digest
        const bytes = await fetchAll(t, desc);
        if (sha(bytes) !== desc.digest && desc.digest.startsWith('sha256:'))
          throw new OracleViolation(`fetched bytes hash to ${sha(bytes)}, the descriptor says ${desc.digest}`);
      });
      await step(async () => {
        const list = await t.referrers({
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: MANIFEST_DIGEST,
          size: MANIFEST.length,
        });
        expectModel(Array.isArray(list) && list.every((d) => d.digest === REFERRER.digest), 'referrers');
      });
      await step(async () => {
        const tags = await t.tags();
        expectModel(Array.isArray(tags) && tags.every((x) => /^t\d$/.test(x)), `tags ${JSON.stringify(tags)}`);
      });
      // the first non-coded error (or oracle violation) fails the input
      for (const e of outcomes) throw e;
    } finally {
      await t.close();
    }
  },
};

// --- server side: Range and Content-Range ------------------------------------------------------

interface ServerCtx {
  root: string;
  reg: RunningRegistry;
  agent: Agent;
  blob: Buffer;
  digest: string;
}

export const serverRange: FuzzTarget<ServerCtx> = {
  name: 'server-range',
  description: 'Range of a blob GET and Content-Range of an upload PATCH, as signet serve parses them',
  weight: 4,
  async setup() {
    const root = await mkdtemp(join(tmpdir(), 'signet-fuzz-range-'));
    const reg = await startRegistry({ addr: '127.0.0.1:0', root });
    const agent = new Agent({ connections: 4 });
    const blob = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));
    const digest = sha(blob);
    const r = await request(`${reg.url}/v2/fuzz/app/blobs/uploads/?digest=${digest}`, {
      method: 'POST',
      body: blob,
      dispatcher: agent,
      headers: { 'content-type': 'application/octet-stream' },
    });
    await r.body.dump();
    if (r.statusCode !== 201) throw new Error(`seed blob push: HTTP ${r.statusCode}`);
    return { root, reg, agent, blob, digest };
  },
  async teardown(ctx) {
    await ctx.agent.close();
    await ctx.reg.close();
    await rm(ctx.root, { recursive: true, force: true });
  },
  arbitrary: () =>
    fc
      .tuple(
        fc.boolean(),
        textFrom(
          [
            'bytes=',
            '-',
            ',',
            ' ',
            '0',
            '1',
            '999',
            '1000',
            '1001',
            '9007199254740993',
            '1e3',
            '+1',
            '0x10',
            'items=',
            '=',
            '\t',
            '-0',
          ],
          ['bytes=0-99', 'bytes=-10', 'bytes=990-', 'bytes=0-0', '0-99', '10-9']
        )
      )
      .map(([patch, v]) => new Uint8Array([patch ? 1 : 0, ...v])),
  async run(ctx, input) {
    const value = headerSafe(utf8(input.subarray(1))).trim();
    if (input[0] === 1) {
      // an upload PATCH at offset 0 with this Content-Range
      const start = await request(`${ctx.reg.url}/v2/fuzz/app/blobs/uploads/`, {
        method: 'POST',
        dispatcher: ctx.agent,
      });
      await start.body.dump();
      const loc = String(start.headers.location);
      const r = await request(`${ctx.reg.url}${loc}`, {
        method: 'PATCH',
        dispatcher: ctx.agent,
        body: ctx.blob.subarray(0, 100),
        headers: { 'content-type': 'application/octet-stream', ...(value ? { 'content-range': value } : {}) },
      });
      await r.body.dump();
      await (await request(`${ctx.reg.url}${loc}`, { method: 'DELETE', dispatcher: ctx.agent })).body.dump();
      expectModel(
        [202, 400, 416].includes(r.statusCode),
        `PATCH Content-Range ${JSON.stringify(value)}: HTTP ${r.statusCode}`
      );
      return;
    }
    const r = await request(`${ctx.reg.url}/v2/fuzz/app/blobs/${ctx.digest}`, {
      dispatcher: ctx.agent,
      headers: value ? { range: value } : {},
    });
    const body = Buffer.from(await r.body.arrayBuffer());
    if (r.statusCode === 200) return expectModel(body.equals(ctx.blob), 'a 200 answer is the whole blob');
    if (r.statusCode === 416)
      return expectModel(r.headers['content-range'] === `bytes */${ctx.blob.length}`, '416 Content-Range');
    expectModel(r.statusCode === 206, `Range ${JSON.stringify(value)}: HTTP ${r.statusCode}`);
    const m = /^bytes (\d+)-(\d+)\/1000$/.exec(String(r.headers['content-range']));
    expectModel(m, `206 with Content-Range ${String(r.headers['content-range'])}`);
    const [s, e] = [Number(m[1]), Number(m[2])];
    expectModel(s <= e && e < ctx.blob.length, `range ${s}-${e}`);
    expectModel(body.equals(ctx.blob.subarray(s, e + 1)), `206 body for ${s}-${e}`);
  },
};
