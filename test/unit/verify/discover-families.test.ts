// Discovery looks only where the requirements' families live: a Notary trust policy alone makes no
// lookups of cosign's `.sig` and `.att` tags (two round trips per artifact saved in a registry),
// while a policy that reads cosign signatures or Sigstore bundles still finds them there.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cosignAttestationTag, cosignSignatureTag } from '../../../src/signature/index.ts';
import { openTarget, type ReadableTarget } from '../../../src/store/index.ts';
import { discoverSignatures, type Candidate } from '../../../src/verify/discover.ts';
import { familiesRead } from '../../../src/verify/engine.ts';
import { loadRequirements } from '../../../src/verify/load.ts';
import { pushArtifact } from '../../helpers/artifacts.ts';
import { trustSetup } from '../../helpers/trust.ts';

describe('discoverSignatures: families', () => {
  let work: string;
  let policy: string;
  let store: string;
  let n = 0;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'signet-families-'));
    ({ policy, store } = await trustSetup(work));
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  /** Discovery over a layout holding one artifact and a cosign `.sig` tag, recording the tags resolved. */
  async function discover(
    families?: Set<Candidate['family']>
  ): Promise<{ resolved: string[]; found: Candidate[]; subject: string }> {
    const { target, parsed } = await openTarget(`oci:${join(work, `layout-${n++}`)}:v1`, { create: true });
    const subject = await pushArtifact(target, 'app', { tag: 'v1' });
    const sig = await pushArtifact(target, 'not a real cosign payload', { tag: cosignSignatureTag(subject.digest) });
    expect(sig.digest).toMatch(/^sha256:/);
    const resolved: string[] = [];
    const spy = new Proxy(target, {
      get(t, prop, receiver) {
        if (prop === 'resolve')
          return (name: string) => {
            resolved.push(name);
            return t.resolve(name);
          };
        const v = Reflect.get(t, prop, receiver) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
      },
    }) as ReadableTarget;
    const found = await discoverSignatures(
      { target: spy, parsed, descriptor: subject },
      { maxSignatures: 50, ...(families ? { families } : {}) }
    );
    await target.close();
    return { resolved, found, subject: subject.digest };
  }

  it('a Notary trust policy alone reads no cosign tags', async () => {
    const { requirements } = await loadRequirements({ trustPolicy: policy, trustStore: store, defaults: false });
    const families = familiesRead(requirements);
    expect([...families]).toEqual(['notary']);
    const { resolved, found } = await discover(families);
    expect(resolved).toEqual([]);
    expect(found.filter((c) => c.family === 'cosign')).toHaveLength(0);
  });

  it('without a family filter (and with cosign read) the .sig tag is read, and .att only for Sigstore', async () => {
    const all = await discover();
    expect(all.resolved.some((t) => t.endsWith('.sig'))).toBe(true);
    expect(all.resolved.some((t) => t.endsWith('.att'))).toBe(true);
    expect(all.found.filter((c) => c.family === 'cosign').length).toBeGreaterThan(0);
    const cosign = await discover(new Set(['cosign']));
    expect(cosign.resolved).toHaveLength(1);
    expect(cosign.resolved).toEqual([cosignSignatureTag(cosign.subject)]);
    expect(cosign.found.filter((c) => c.family === 'cosign').length).toBeGreaterThan(0);
    const sigstore = await discover(new Set(['sigstore']));
    expect(sigstore.resolved).toEqual([cosignAttestationTag(sigstore.subject)]);
  });
});
