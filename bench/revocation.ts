import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryRevocationCache, toPem } from '../src/pki/index.ts';
import { signArtifact } from '../src/sign/index.ts';
import { RegistryTarget } from '../src/store/index.ts';
import { loadTrustPolicy } from '../src/trust/index.ts';
import { verifyArtifact } from '../src/verify/index.ts';
import { TrustStore as BenchTrustStore } from '../src/trust/index.ts';
import { pushArtifact } from '../test/helpers/artifacts.ts';
import { startRevocationPki } from '../test/helpers/revocation.ts';
import { startSignet } from './peers.ts';

/** 200 artifacts verified with revocation checking (OCSP, cold and warm cache) against without. */
export async function revocationSection(): Promise<void> {
  console.log(
    '\n## verification with revocation checking (OCSP via openssl ocsp on 127.0.0.1), 200 artifacts, one process'
  );
  const work = await mkdtemp(join(tmpdir(), 'signet-bench-rev-'));
  const pki = await startRevocationPki();
  const reg = await startSignet(join(work, 'registry'));
  try {
    const store = join(work, 'store');
    await mkdir(join(store, 'x509', 'ca', 'r'), { recursive: true });
    await writeFile(join(store, 'x509', 'ca', 'r', 'root.pem'), toPem([pki.root]));
    const doc = (revocation: 'enforce' | 'skip') =>
      loadTrustPolicy({
        version: '1.0',
        trustPolicies: [
          {
            name: 'r',
            registryScopes: ['*'],
            signatureVerification: {
              level: 'strict',
              ...(revocation === 'skip' ? { override: { revocation: 'skip' } } : {}),
            },
            trustStores: ['ca:r'],
            trustedIdentities: ['*'],
          },
        ],
      });
    const t = new RegistryTarget({ registry: reg.host, repository: 'bench/rev' });
    const refs: string[] = [];
    for (let i = 0; i < 200; i++) {
      const d = await pushArtifact(t, `revocation artifact ${i}`, { tag: `v${i}` });
      await signArtifact(t, d, pki.good);
      refs.push(`${reg.host}/bench/rev:v${i}`);
    }
    await t.close();
    const pass = async (policy: ReturnType<typeof doc>, cache?: MemoryRevocationCache): Promise<number> => {
      const t0 = process.hrtime.bigint();
      for (const r of refs) {
        const v = await verifyArtifact(
          r,
          [{ kind: 'trust-policy', document: policy, trustStore: new BenchTrustStore(store) }],
          { ...(cache ? { revocationOptions: { cache } } : {}) }
        );
        if (v.verdict !== 'verified') throw new Error(`${r} did not verify`);
      }
      return 200 / (Number(process.hrtime.bigint() - t0) / 1e9);
    };
    await pass(doc('skip')); // warm-up: JIT, connections, caches of certificates
    const without = await pass(doc('skip'));
    const cold = await pass(doc('enforce'));
    const cache = new MemoryRevocationCache();
    await verifyArtifact(
      refs[0]!,
      [{ kind: 'trust-policy', document: doc('enforce'), trustStore: new BenchTrustStore(store) }],
      { revocationOptions: { cache } }
    );
    const warm = await pass(doc('enforce'), cache);
    console.log(
      `without revocation ${without.toFixed(0)}/s; OCSP cold cache (one OCSP request each) ${cold.toFixed(0)}/s (${(cold / without).toFixed(2)}x); OCSP warm cache ${warm.toFixed(0)}/s (${(warm / without).toFixed(2)}x)`
    );
  } finally {
    await reg.stop();
    await pki.close();
    await rm(work, { recursive: true, force: true });
  }
}
