import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { descriptorFor, encodeManifest, MediaType, type Descriptor } from '../../src/oci/index.ts';
import type { KeyStore } from '../../src/pki/index.ts';
import { sign } from '../../src/sign/index.ts';
import { SIGNATURE_ARTIFACT_TYPE } from '../../src/signature/index.ts';
import { LayoutTarget } from '../../src/store/index.ts';
import { verify, type VerificationReport } from '../../src/verify/index.ts';
import { pushArtifact } from '../helpers/artifacts.ts';
import { trustSetup } from '../helpers/trust.ts';
import { runSignet } from '../helpers/serve.ts';

describe('multi-arch: index signatures and platform manifests', () => {
  let work: string;
  let keys: KeyStore;
  let store: string;
  let policy: string;
  let platforms: Descriptor[];
  let index: Descriptor;

  async function layout(name: string): Promise<string> {
    const dir = join(work, name);
    const t = await LayoutTarget.open(dir, { create: true });
    platforms = [await pushArtifact(t, `${name} amd64`), await pushArtifact(t, `${name} arm64`)];
    const bytes = encodeManifest({
      schemaVersion: 2,
      mediaType: MediaType.ImageIndex,
      manifests: platforms.map((p, i) => ({ ...p, platform: { os: 'linux', architecture: ['amd64', 'arm64'][i]! } })),
    });
    index = descriptorFor(MediaType.ImageIndex, bytes);
    await t.push(index, bytes);
    await t.tag(index, 'v1');
    return dir;
  }

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'signet-multiarch-'));
    ({ keys, store, policy } = await trustSetup(work));
  });
  afterAll(async () => rm(work, { recursive: true, force: true }));

  it('signing an index signs the index only; --recursive signs every platform manifest too', async () => {
    const dir = await layout('plain');
    const r = await sign(`oci:${dir}:v1`, { keyStore: keys });
    expect(r).toHaveLength(1);
    const t = await LayoutTarget.open(dir);
    expect(await t.referrers(platforms[0]!, SIGNATURE_ARTIFACT_TYPE)).toHaveLength(0);
    const dir2 = await layout('recursive');
    const r2 = await sign(`oci:${dir2}:v1`, { keyStore: keys, recursive: true });
    expect(r2.map((x) => x.subject.digest)).toEqual([index.digest, ...platforms.map((p) => p.digest)]);
    for (const p of platforms)
      expect(
        (
          await verify(`oci:${dir2}@${p.digest}`, {
            sources: { trustPolicy: policy, trustStore: store, defaults: false },
          })
        ).verdict
      ).toBe('verified');
  });

  it('a platform manifest covered only by a signed index is reported, and accepted only with the flag', async () => {
    const dir = await layout('covered');
    await sign(`oci:${dir}:v1`, { keyStore: keys });
    const ref = `oci:${dir}@${platforms[0]!.digest}`;
    const plain = await runSignet(['verify', ref, '--policy', policy, '--trust-store', store]);
    expect(plain.code).toBe(1);
    expect(plain.stdout).toContain('no Notary Project signature is associated');
    const reported = await runSignet([
      'verify',
      ref,
      '--index',
      `oci:${dir}:v1`,
      '--policy',
      policy,
      '--trust-store',
      store,
    ]);
    expect(reported.code).toBe(1);
    expect(reported.stdout).toMatch(/covered by the signed index .* \(accept that with --accept-index-signature\)/);
    const accepted = await runSignet([
      'verify',
      ref,
      '--index',
      `oci:${dir}:v1`,
      '--accept-index-signature',
      '--policy',
      policy,
      '--trust-store',
      store,
      '-o',
      'json',
    ]);
    expect(accepted.code).toBe(0);
    const report = (JSON.parse(accepted.stdout) as VerificationReport[])[0]!;
    expect(report.verdict).toBe('verified');
    expect(report.checks).toContainEqual(
      expect.objectContaining({
        name: 'subject',
        outcome: 'pass',
        reason: expect.stringMatching(/accepted because the signed index/),
      })
    );
    expect(report.requirements.every((r) => r.satisfied && r.by.length === 1)).toBe(true);
    // an index that does not list the manifest covers nothing
    const other = await layout('other');
    await sign(`oci:${other}:v1`, { keyStore: keys });
    const wrong = await runSignet([
      'verify',
      ref,
      '--index',
      `oci:${other}:v1`,
      '--accept-index-signature',
      '--policy',
      policy,
      '--trust-store',
      store,
    ]);
    expect(wrong.code).toBe(1);
    expect(wrong.stdout).toMatch(/does not list/);
  });
});
