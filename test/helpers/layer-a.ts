import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { copy } from '../../src/copy/index.ts';
import { SignerState, TagState } from '../../src/freshness/index.ts';
import type { KeyStore } from '../../src/pki/index.ts';
import { sign, type SignOptions } from '../../src/sign/index.ts';
import { openTarget } from '../../src/store/index.ts';
import { verify, type VerificationReport } from '../../src/verify/index.ts';
import { pushArtifact } from './artifacts.ts';
import { startDistribution } from './distribution.ts';
import { runSignet, startServe, type Served } from './serve.ts';
import { trustSetup } from './trust.ts';

/**
 * What the Layer A freshness tests share: a signing setup, signet serve and docker-registry, a
 * strict `nameBinding` policy maker, fresh client homes, and verification by library and by CLI.
 */
export interface LayerA {
  work: string;
  keys: KeyStore;
  store: string;
  serve: Served;
  dist: { host: string; close(): Promise<void> };
  policy(statement?: Record<string, unknown>): Promise<string>;
  /** A client home of its own (no state yet). */
  home(): string;
  lib(
    ref: string,
    policy: string,
    opts?: { home?: string; name?: string; allowDowngrade?: boolean }
  ): Promise<VerificationReport>;
  cli(ref: string, policy: string, home: string, ...extra: string[]): ReturnType<typeof runSignet>;
  checkOf(r: VerificationReport, name: string): VerificationReport['checks'][number] | undefined;
  signAs(ref: string, o?: SignOptions): ReturnType<typeof sign>;
  push(base: string, tag: string, content: string): ReturnType<typeof pushArtifact>;
  copyTag(src: string, dst: string, tag: string): Promise<void>;
  close(): Promise<void>;
}

export async function layerA(prefix: string): Promise<LayerA> {
  const work = await mkdtemp(join(tmpdir(), prefix));
  const { keys, store } = await trustSetup(work);
  const signerState = new SignerState(join(work, 'signer-state'));
  const [serve, dist] = await Promise.all([startServe(), startDistribution()]);
  let n = 0;
  const home = (): string => join(work, `home-${++n}`);
  return {
    work,
    keys,
    store,
    serve,
    dist,
    home,
    async policy(statement = {}) {
      const p = join(work, `policy-${++n}.json`);
      const st = {
        name: 'acme',
        registryScopes: ['*'],
        signatureVerification: { level: 'strict' },
        trustStores: ['ca:t'],
        trustedIdentities: ['*'],
        nameBinding: 'strict',
        ...statement,
      };
      await writeFile(p, JSON.stringify({ version: '1.0', trustPolicies: [st] }));
      return p;
    },
    lib: (ref, p, opts = {}) =>
      verify(ref, {
        sources: { trustPolicy: p, trustStore: store, defaults: false },
        ...(opts.name ? { name: opts.name } : {}),
        ...(opts.allowDowngrade ? { allowDowngrade: true } : {}),
        tagState: new TagState(join(opts.home ?? home(), 'state', 'tags')),
      }),
    cli: (ref, p, h, ...extra) =>
      runSignet(['verify', ref, '--policy', p, '--trust-store', store, '--no-revocation-cache', ...extra], {
        env: { SIGNET_HOME: h },
      }),
    checkOf: (r, name) =>
      [...r.requirements.flatMap((q) => q.checks), ...r.signatures.flatMap((s) => s.checks)].find(
        (c) => c.name === name
      ),
    signAs: (ref, o = {}) => sign(ref, { keyStore: keys, signerState, ...o }),
    async push(base, tag, content) {
      const { target } = await openTarget(`${base}:${tag}`, { create: true });
      try {
        return await pushArtifact(target, content, { tag });
      } finally {
        await target.close();
      }
    },
    async copyTag(src, dst, tag) {
      const s = await openTarget(`${src}:${tag}`);
      const d = await openTarget(`${dst}:${tag}`, { create: true });
      try {
        await copy(s.target, tag, d.target, tag);
      } finally {
        await s.target.close();
        await d.target.close();
      }
    },
    async close() {
      await Promise.all([serve.close(), dist.close()]);
      await rm(work, { recursive: true, force: true });
    },
  };
}
