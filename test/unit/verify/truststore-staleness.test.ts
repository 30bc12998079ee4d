// The trust store's load cache (src/trust/truststore.ts) checks staleness with synchronous stats;
// these prove a changed store is always read again, with no waiting between the changes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toPem } from '../../../src/pki/index.ts';
import { TrustStore } from '../../../src/trust/index.ts';
import { makeChain } from '../../helpers/pki.ts';

describe('trust store cache: never stale', () => {
  let root: string;
  let a: string;
  let b: string;
  let leaf: string;
  let i = 0;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'signet-ts-stale-'));
    const one = await makeChain();
    const two = await makeChain();
    // The same length, so a rewrite in place changes neither the size nor (within the clock's
    // granularity) the mtime: only the bytes.
    const pa = toPem([one.root]);
    const pb = toPem([two.root]);
    const len = Math.max(pa.length, pb.length) + 1;
    a = pa.padEnd(len, '\n');
    b = pb.padEnd(len, '\n');
    leaf = toPem([one.chain[0]!]);
  });
  afterAll(async () => rm(root, { recursive: true, force: true }));

  async function store(files: Record<string, string>): Promise<{ ts: TrustStore; dir: string; name: string }> {
    const name = `s${i++}`;
    const dir = join(root, 'x509', 'ca', name);
    await mkdir(dir, { recursive: true });
    for (const [f, text] of Object.entries(files)) await writeFile(join(dir, f), text);
    return { ts: new TrustStore(root), dir, name };
  }
  const fingerprints = async (ts: TrustStore, name: string): Promise<string[]> =>
    (await ts.getCertificates('ca', name)).map((c) => c.fingerprint256).sort();

  it('reuses a load while nothing changed', async () => {
    const { ts, name } = await store({ 'a.pem': a });
    const first = await ts.getCertificates('ca', name);
    expect(await new TrustStore(root).getCertificates('ca', name)).toHaveLength(1);
    expect((await ts.getCertificates('ca', name))[0]!.fingerprint256).toBe(first[0]!.fingerprint256);
  });
  it('sees a file rewritten in place with the same size at once', async () => {
    const { ts, dir, name } = await store({ 'a.pem': a });
    const before = await fingerprints(ts, name);
    await writeFile(join(dir, 'a.pem'), b);
    const after = await fingerprints(ts, name);
    expect(after).not.toEqual(before);
    await writeFile(join(dir, 'a.pem'), a);
    expect(await fingerprints(ts, name)).toEqual(before);
  });
  it('sees a file added, removed and renamed over another', async () => {
    const { ts, dir, name } = await store({ 'a.pem': a });
    expect(await fingerprints(ts, name)).toHaveLength(1);
    await writeFile(join(dir, 'b.pem'), b);
    expect(await fingerprints(ts, name)).toHaveLength(2);
    await unlink(join(dir, 'a.pem'));
    const onlyB = await fingerprints(ts, name);
    expect(onlyB).toHaveLength(1);
    await writeFile(join(dir, 'tmp'), a);
    await rename(join(dir, 'tmp'), join(dir, 'b.pem'));
    const nowA = await fingerprints(ts, name);
    expect(nowA).toHaveLength(1);
    expect(nowA).not.toEqual(onlyB);
  });
  it('sees a store become invalid, and valid again', async () => {
    const { ts, dir, name } = await store({ 'a.pem': a });
    await ts.getCertificates('ca', name);
    await writeFile(join(dir, 'leaf.pem'), leaf);
    await expect(ts.getCertificates('ca', name)).rejects.toThrow(/not a CA certificate/);
    await unlink(join(dir, 'leaf.pem'));
    expect(await fingerprints(ts, name)).toHaveLength(1);
    await rm(dir, { recursive: true });
    await expect(ts.getCertificates('ca', name)).rejects.toThrow(/does not exist/);
  });
  it('follows <root>/x509 appearing beside <root>/truststore/x509', async () => {
    const base = join(root, `nested${i++}`);
    await mkdir(join(base, 'truststore', 'x509', 'ca', 'n'), { recursive: true });
    await writeFile(join(base, 'truststore', 'x509', 'ca', 'n', 'a.pem'), a);
    const ts = new TrustStore(base);
    const nested = await fingerprints(ts, 'n');
    await mkdir(join(base, 'x509', 'ca', 'n'), { recursive: true });
    await writeFile(join(base, 'x509', 'ca', 'n', 'b.pem'), b);
    const direct = await fingerprints(ts, 'n');
    expect(direct).not.toEqual(nested);
    await rm(join(base, 'x509'), { recursive: true });
    expect(await fingerprints(ts, 'n')).toEqual(nested);
  });
  it('a narrowed view answers the narrowed list through both ways of reading, the rest unchanged', async () => {
    const one = await store({ 'a.pem': a });
    const two = await store({ 'b.pem': b });
    await one.ts.getCertificates('ca', one.name);
    const view = one.ts.narrowed(new Map([[`ca:${one.name}`, []]]));
    expect(view.cachedCertificates('ca', one.name)).toEqual([]);
    expect(await view.getCertificates('ca', one.name)).toEqual([]);
    expect(await fingerprints(view, two.name)).toEqual(await fingerprints(one.ts, two.name));
    // The store itself is untouched.
    expect(await fingerprints(one.ts, one.name)).toHaveLength(1);
  });
});
