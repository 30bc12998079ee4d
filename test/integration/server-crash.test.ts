import { afterAll, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { fsck } from '../../src/server/index.ts';
import { runSignet, spawnServe, type SpawnedServe } from '../helpers/serve.ts';

const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

interface Acked {
  repo: string;
  tag: string;
  blob: Buffer;
  manifest: Buffer;
}

async function pushOne(host: string, repo: string, tag: string, blob: Buffer): Promise<Acked> {
  const start = await request(`http://${host}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  await start.body.dump();
  if (start.statusCode !== 202) throw new Error(`POST ${start.statusCode}`);
  const loc = new URL(String(start.headers.location), `http://${host}`);
  // half of the pushes go in two PATCH chunks, the rest in one PUT
  if (blob.length > 1 && tag.endsWith('1')) {
    const half = blob.length >> 1;
    const p = await request(loc, {
      method: 'PATCH',
      body: blob.subarray(0, half),
      headers: { 'content-range': `0-${half - 1}` },
    });
    await p.body.dump();
    if (p.statusCode !== 202) throw new Error(`PATCH ${p.statusCode}`);
    const loc2 = new URL(String(p.headers.location), `http://${host}`);
    loc2.searchParams.set('digest', sha(blob));
    const put = await request(loc2, { method: 'PUT', body: blob.subarray(half) });
    await put.body.dump();
    if (put.statusCode !== 201) throw new Error(`PUT ${put.statusCode}`);
  } else {
    loc.searchParams.set('digest', sha(blob));
    const put = await request(loc, { method: 'PUT', body: blob });
    await put.body.dump();
    if (put.statusCode !== 201) throw new Error(`PUT ${put.statusCode}`);
  }
  const cfg = Buffer.from('{}');
  const c = await request(`http://${host}/v2/${repo}/blobs/uploads/?digest=${sha(cfg)}`, { method: 'POST', body: cfg });
  await c.body.dump();
  if (c.statusCode !== 201) throw new Error(`POST config ${c.statusCode}`);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      artifactType: 'application/vnd.test',
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha(cfg), size: 2 },
      layers: [{ mediaType: 'application/octet-stream', digest: sha(blob), size: blob.length }],
    })
  );
  const m = await request(`http://${host}/v2/${repo}/manifests/${tag}`, {
    method: 'PUT',
    body: manifest,
    headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
  });
  await m.body.dump();
  if (m.statusCode !== 201) throw new Error(`PUT manifest ${m.statusCode}`);
  return { repo, tag, blob, manifest };
}

describe('crash safety: SIGKILL during concurrent pushes', () => {
  let root: string;
  let server: SpawnedServe | undefined;
  afterAll(async () => {
    await server?.kill('SIGKILL');
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('every acknowledged push survives, and fsck finds nothing corrupt or dangling', async () => {
    root = await mkdtemp(join(tmpdir(), 'signet-crash-'));
    server = await spawnServe(root);
    const host = server.host;
    const acked: Acked[] = [];
    let stop = false;
    let failures = 0;
    const clients = Array.from({ length: 8 }, async (_, c) => {
      for (let i = 0; !stop; i++) {
        try {
          acked.push(
            await pushOne(
              host,
              `crash/client${c}`,
              `t${i}`,
              randomBytes(1024 + ((i * 7919 + c * 104729) % (512 * 1024)))
            )
          );
        } catch {
          failures++;
          return; // the server is gone
        }
      }
    });
    // let pushes pile up, then kill the server in the middle of them
    while (acked.length < 40) await new Promise((r) => setTimeout(r, 20));
    await server.kill('SIGKILL');
    stop = true;
    await Promise.all(clients);
    expect(failures).toBeGreaterThan(0); // some pushes were cut off by the kill
    const ackedCount = acked.length;
    expect(ackedCount).toBeGreaterThanOrEqual(40);

    // restart on the same root: temp files of interrupted writes are cleaned, nothing else changes
    server = await spawnServe(root);
    const report = await fsck(root);
    expect(report.corrupt).toEqual([]);
    expect(report.dangling).toEqual([]);
    expect(report.manifests).toBeGreaterThanOrEqual(ackedCount);
    const cli = await runSignet(['fsck', '--root', root, '-o', 'json']);
    expect(cli.code).toBe(0);
    expect(JSON.parse(cli.stdout).corrupt).toHaveLength(0);

    for (const a of acked) {
      const m = await request(`http://${server.host}/v2/${a.repo}/manifests/${a.tag}`, {
        headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
      });
      const mbytes = Buffer.from(await m.body.arrayBuffer());
      expect(m.statusCode).toBe(200);
      expect(mbytes.equals(a.manifest)).toBe(true);
      const b = await request(`http://${server.host}/v2/${a.repo}/blobs/${sha(a.blob)}`);
      expect(b.statusCode).toBe(200);
      expect(Buffer.from(await b.body.arrayBuffer()).equals(a.blob)).toBe(true);
    }
  });
});
