// verifyArtifacts with bounded concurrency against a real signet serve: each artifact is judged on
// its own, so a failing one never changes another's verdict, and the reports keep their order.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeyStore } from '../../src/pki/index.ts';
import { sign } from '../../src/sign/index.ts';
import { RegistryClientPool, RegistryTarget } from '../../src/store/index.ts';
import { mapConcurrent } from '../../src/verify/batch.ts';
import { verifyArtifacts, type VerificationReport } from '../../src/verify/index.ts';
import { pushArtifact } from '../helpers/artifacts.ts';
import { startServe, type Served } from '../helpers/serve.ts';
import { trustSetup } from '../helpers/trust.ts';

type Kind = 'signed' | 'unsigned' | 'untrusted' | 'tampered';

describe('verifyArtifacts: bounded concurrency', () => {
  let served: Served;
  let work: string;
  let policy: string;
  let store: string;
  const cases: Array<{ ref: string; kind: Kind }> = [];

  beforeAll(async () => {
    served = await startServe();
    work = await mkdtemp(join(tmpdir(), 'signet-batch-'));
    const setup = await trustSetup(work);
    ({ policy, store } = setup);
    const stranger = new KeyStore(join(work, 'stranger'));
    await stranger.generate('root', { type: 'ecdsa-p256', ca: true, subject: 'CN=S,O=T,ST=WA,C=US' });
    await stranger.generate('leaf', {
      type: 'ecdsa-p256',
      issuer: 'root',
      subject: 'CN=SL,O=T,ST=WA,C=US',
      isDefault: true,
    });
    const kinds: Kind[] = ['signed', 'unsigned', 'untrusted', 'tampered'];
    for (let i = 0; i < 24; i++) {
      const kind = kinds[(i * 7) % 4]!;
      const repo = `batch/app${i % 3}`;
      const t = new RegistryTarget({ registry: served.host, repository: repo });
      await pushArtifact(t, `artifact ${i}`, { tag: `v${i}` });
      const ref = `${served.host}/${repo}:v${i}`;
      if (kind === 'signed') await sign(ref, { keyStore: setup.keys });
      if (kind === 'untrusted') await sign(ref, { keyStore: stranger });
      if (kind === 'tampered') {
        // A valid signature of another artifact, attached to this one: its payload names the other.
        const other = await pushArtifact(t, `decoy ${i}`);
        await sign(`${served.host}/${repo}@${other.digest}`, { keyStore: setup.keys });
        const [sig] = await t.referrers(other);
        const { manifest } = await import('../../src/store/index.ts').then((m) => m.fetchManifest(t, sig!));
        const subject = await t.resolve(`v${i}`);
        const moved = {
          ...(manifest as object),
          subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
        };
        const { encodeManifest, descriptorFor, MediaType } = await import('../../src/oci/index.ts');
        const bytes = encodeManifest(moved as never);
        await t.push(descriptorFor(MediaType.ImageManifest, bytes), bytes);
      }
      await t.close();
      cases.push({ ref, kind });
    }
  });
  afterAll(async () => {
    await served?.close();
    await rm(work, { recursive: true, force: true });
  });

  const run = (concurrency: number): Promise<VerificationReport[]> =>
    verifyArtifacts(
      cases.map((c) => c.ref),
      {
        sources: { trustPolicy: policy, trustStore: store, defaults: false },
        revocationData: { cache: false },
        concurrency,
      }
    );
  const summary = (r: VerificationReport): unknown => ({
    reference: r.reference,
    verdict: r.verdict,
    signatures: r.signatures.map((s) => ({
      verdict: s.verdict,
      failed: s.checks.filter((c) => c.outcome === 'fail').map((c) => c.name),
    })),
  });

  it('gives every artifact its own verdict, in order, the same as one at a time', async () => {
    const one = await run(1);
    const many = await run(8);
    const all = await run(24);
    expect(many.map(summary)).toEqual(one.map(summary));
    expect(all.map(summary)).toEqual(one.map(summary));
    for (const [i, c] of cases.entries()) {
      const r = many[i]!;
      expect(r.reference.startsWith(c.ref.replace(/:v\d+$/, '@'))).toBe(true);
      expect(r.verdict).toBe(c.kind === 'signed' ? 'verified' : 'failed');
    }
    const reason = (k: Kind) =>
      many.filter((_, i) => cases[i]!.kind === k).flatMap((r) => r.signatures.flatMap((s) => s.checks));
    expect(reason('untrusted').some((c) => c.name === 'authenticity' && c.outcome === 'fail')).toBe(true);
    expect(reason('tampered').some((c) => c.outcome === 'fail')).toBe(true);
    expect(many.filter((_, i) => cases[i]!.kind === 'unsigned').every((r) => r.signatures.length === 0)).toBe(true);
  });

  it('a reference that cannot be read fails the batch as before, without starting more', async () => {
    const refs = [cases[0]!.ref, `${served.host}/batch/app0:missing`, ...cases.slice(1).map((c) => c.ref)];
    await expect(
      verifyArtifacts(refs, {
        sources: { trustPolicy: policy, trustStore: store, defaults: false },
        revocationData: { cache: false },
        concurrency: 4,
      })
    ).rejects.toThrow(/missing/);
  });

  it('shares one client per registry through a pool', async () => {
    const pool = new RegistryClientPool();
    try {
      const reports = await verifyArtifacts(
        cases.slice(0, 6).map((c) => c.ref),
        {
          sources: { trustPolicy: policy, trustStore: store, defaults: false },
          revocationData: { cache: false },
          open: { pool },
        }
      );
      expect(reports).toHaveLength(6);
      expect(pool.client({ registry: served.host })).toBe(pool.client({ registry: served.host }));
    } finally {
      await pool.close();
    }
  });
});

describe('mapConcurrent', () => {
  it('keeps order, bounds the calls in flight, and throws the earliest failure', async () => {
    let running = 0;
    let peak = 0;
    const started: number[] = [];
    const out = await mapConcurrent([5, 1, 4, 2, 3, 0, 6], 3, async (x, i) => {
      started.push(i);
      running++;
      peak = Math.max(peak, running);
      for (let k = 0; k < x; k++) await Promise.resolve();
      running--;
      return x * 10;
    });
    expect(out).toEqual([50, 10, 40, 20, 30, 0, 60]);
    expect(peak).toBe(3);
    const seen: number[] = [];
    await expect(
      mapConcurrent([0, 1, 2, 3, 4, 5, 6, 7], 2, async (x) => {
        seen.push(x);
        await Promise.resolve();
        if (x === 3 || x === 2) throw new Error(`failed ${x}`);
        return x;
      })
    ).rejects.toThrow('failed 2');
    expect(seen.length).toBeLessThan(8);
  });
});
