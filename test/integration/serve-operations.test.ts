import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { createAuthorizer } from '../../src/server/auth/index.ts';
import { startRegistry, type RunningRegistry } from '../../src/server/index.ts';
import { RegistryTarget } from '../../src/store/index.ts';
import type { Logger } from '../../src/util/index.ts';
import { pushArtifact } from '../helpers/artifacts.ts';

/** A logger that keeps what it is given, as pino would write it. */
function recordingLogger(): Logger & { lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const keep = (level: string) => (obj: object | string, msg?: string) =>
    lines.push({ level, ...(typeof obj === 'string' ? { msg: obj } : { ...obj, msg }) });
  return { lines, debug: keep('debug'), info: keep('info'), warn: keep('warn'), error: keep('error') };
}

const basic = (u: string): string => `Basic ${Buffer.from(`${u}:${u}-pw`).toString('base64')}`;

describe('signet serve operations: /metrics, access logs with request ids, graceful shutdown', () => {
  let work: string;
  let open: RunningRegistry;
  let authed: RunningRegistry;
  const log = recordingLogger();

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'signet-ops-'));
    open = await startRegistry({ addr: '127.0.0.1:0', root: join(work, 'open'), logger: log });
    const users = Object.fromEntries(['ops', 'team'].map((u) => [u, bcrypt.hashSync(`${u}-pw`, 4)]));
    await writeFile(
      join(work, 'auth.json'),
      JSON.stringify({
        users,
        access: [
          { repository: '*', users: ['ops'], actions: ['pull'] },
          { repository: 'team/*', users: ['team'], actions: ['pull', 'push'] },
        ],
      })
    );
    authed = await startRegistry({
      addr: '127.0.0.1:0',
      root: join(work, 'authed'),
      authorizer: await createAuthorizer(join(work, 'auth.json')),
    });
  });
  afterAll(async () => {
    await open?.close();
    await authed?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('/metrics counts requests by route and status, and bytes; open without --auth', async () => {
    const t = new RegistryTarget({ registry: open.host, repository: 'ops/app' });
    await pushArtifact(t, 'counted', { tag: 'v1' });
    await t.resolve('v1');
    await t.close();
    expect((await fetch(`http://${open.host}/v2/ops/app/manifests/nope`)).status).toBe(404);
    const r = await fetch(`http://${open.host}/metrics`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await r.text();
    expect(text).toMatch(/^# TYPE signet_http_requests_total counter$/m);
    // pushArtifact puts the manifest by digest, then again under its tag.
    expect(text).toMatch(/^signet_http_requests_total\{route="manifest",method="PUT",status="201"\} 2$/m);
    expect(text).toMatch(/^signet_http_requests_total\{route="manifest",method="HEAD",status="200"\} 1$/m);
    expect(text).toMatch(/^signet_http_requests_total\{route="manifest",method="GET",status="404"\} 1$/m);
    expect(Number(/^signet_http_received_bytes_total (\d+)$/m.exec(text)![1])).toBeGreaterThan(200);
    expect(Number(/^signet_http_sent_bytes_total (\d+)$/m.exec(text)![1])).toBeGreaterThan(200);
  });

  it('under --auth, /metrics needs pull on every repository', async () => {
    expect((await fetch(`http://${authed.host}/metrics`)).status).toBe(401);
    const team = await fetch(`http://${authed.host}/metrics`, { headers: { authorization: basic('team') } });
    expect(team.status).toBe(403);
    const ops = await fetch(`http://${authed.host}/metrics`, { headers: { authorization: basic('ops') } });
    expect(ops.status).toBe(200);
    expect(await ops.text()).toContain('signet_http_requests_total');
  });

  it('every request gets a request id, in its answer and in its access log line', async () => {
    const a = await fetch(`http://${open.host}/v2/`);
    const b = await fetch(`http://${open.host}/v2/`);
    const ida = a.headers.get('x-request-id');
    expect(ida).toMatch(/^[0-9a-f-]{36}$/);
    expect(b.headers.get('x-request-id')).not.toBe(ida);
    // The line is written once the answer has left: wait for it rather than race it.
    for (let i = 0; i < 100 && !log.lines.some((l) => l.reqId === ida); i++)
      await new Promise((r) => setTimeout(r, 10));
    const line = log.lines.find((l) => l.reqId === ida);
    expect(line).toMatchObject({ msg: 'request', method: 'GET', path: '/v2/', route: 'base', status: 200 });
    expect(typeof line!.ms).toBe('number');
  });

  it('close() lets an upload in flight finish, and refuses new connections', async () => {
    const reg = await startRegistry({ addr: '127.0.0.1:0', root: join(work, 'graceful') });
    const [hostname, port] = reg.host.split(':');
    const started = await fetch(`http://${reg.host}/v2/g/app/blobs/uploads/`, { method: 'POST' });
    const location = started.headers.get('location')!;
    const body = Buffer.alloc(256 * 1024, 7);
    const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
    const sep = location.includes('?') ? '&' : '?';
    let closed = false;
    const status = new Promise<number>((resolve, reject) => {
      const req = request(
        {
          hostname,
          port: Number(port),
          method: 'PUT',
          path: `${location}${sep}digest=${digest}`,
          headers: { 'content-type': 'application/octet-stream', 'content-length': String(body.length) },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        }
      );
      req.on('error', reject);
      // Half the body, then the server is asked to stop, then the rest.
      req.write(body.subarray(0, body.length / 2));
      setTimeout(() => {
        const closing = reg.close().then(() => (closed = true));
        void closing;
        setTimeout(() => req.end(body.subarray(body.length / 2)), 300);
      }, 200);
    });
    expect(await status).toBe(201);
    await new Promise((r) => setTimeout(r, 200));
    expect(closed).toBe(true);
    await expect(fetch(`http://${reg.host}/v2/`)).rejects.toThrow();
    // The blob was committed whole.
    const again = await startRegistry({ addr: '127.0.0.1:0', root: join(work, 'graceful') });
    try {
      const head = await fetch(`http://${again.host}/v2/g/app/blobs/${digest}`, { method: 'HEAD' });
      expect(head.status).toBe(200);
    } finally {
      await again.close();
    }
  });
});
