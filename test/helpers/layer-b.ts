import { createPublicKey } from 'node:crypto';
import { join } from 'node:path';
import { Metadata, MetadataKind } from '@tufjs/models';
import {
  readBundleIndex,
  tufInit,
  tufPublish,
  tufSigner,
  writeBundle,
  signWith,
  type TufInitOptions,
  type TufPublishOptions,
} from '../../src/freshness/index.ts';
import { fetchAll, openTarget } from '../../src/store/index.ts';
import { TagState } from '../../src/freshness/index.ts';
import { verify, type VerificationReport } from '../../src/verify/index.ts';
import { layerA, type LayerA } from './layer-a.ts';
import { runSignet } from './serve.ts';

/**
 * The Layer B fixture on top of Layer A's: three TUF keys (tuf-a, tuf-b, tuf-c) in the signer's
 * key store; the TUF repository written through the library as the signer (its home), or by
 * `signet tuf …`; library verifications keeping their TUF state in a client home of their own;
 * and what an attacker who controls the registry does to the bundle (read its files, push a
 * crafted one, move the tag back).
 */
export interface LayerB {
  t: LayerA;
  /** `signet tuf …` as the signer. */
  tuf(...args: string[]): ReturnType<typeof runSignet>;
  /** `signet tuf init TUFREF --root-key tuf-a …` by the CLI: the pinned root digest it prints. */
  init(tufRef: string, ...extra: string[]): Promise<string>;
  /** The same through the library (root key tuf-a unless `keys` says otherwise). */
  initLib(tufRef: string, o?: Partial<TufInitOptions>): Promise<string>;
  publish(tufRef: string, ref: string, o?: TufPublishOptions): ReturnType<typeof tufPublish>;
  /** Options every library write takes (the signer's key store and home). */
  as: { keyStore: LayerA['keys']; home: string };
  policyFor(tufRef: string, root: string, extra?: Record<string, unknown>): Promise<string>;
  verifyLib(
    ref: string,
    policy: string,
    o?: { now?: Date; name?: string; offline?: boolean }
  ): Promise<VerificationReport>;
  /** The current bundle's files by filename, and its manifest digest. */
  files(tufRef: string): Promise<{ digest: string; files: Map<string, Uint8Array> }>;
  /** Pushes `files` as the bundle under TUFREF's tag (what a registry under attack serves). */
  plant(tufRef: string, files: Map<string, Uint8Array>): Promise<void>;
  /** Points TUFREF's tag back at an earlier bundle manifest. */
  retag(tufRef: string, digest: string): Promise<void>;
  /** A timestamp.json re-signed by `key` with `edit` applied (a compromised online key). */
  forgeTimestamp(
    bytes: Uint8Array,
    key: string,
    edit: (signed: { version: number; expires: string }) => void
  ): Promise<Uint8Array>;
  close(): Promise<void>;
}

export async function layerB(prefix: string): Promise<LayerB> {
  const t = await layerA(prefix);
  const signerHome = t.keys.home;
  for (const k of ['tuf-a', 'tuf-b', 'tuf-c'])
    await t.keys.generate(k, { type: 'ecdsa-p256', subject: `CN=${k},O=T,ST=WA,C=US` });
  process.env.SIGNET_HOME = join(t.work, 'lib-client');
  const tuf = (...args: string[]) => runSignet(['tuf', ...args], { env: { SIGNET_HOME: signerHome } });
  const as = { keyStore: t.keys, home: signerHome };
  const open = async (tufRef: string) => openTarget(tufRef, { create: true });
  return {
    t,
    tuf,
    as,
    async init(tufRef, ...extra) {
      const r = await tuf('init', tufRef, '--root-key', 'tuf-a', ...extra);
      const m = /^root: (sha256:[0-9a-f]{64})$/m.exec(r.stdout);
      if (r.code !== 0 || !m) throw new Error(`signet tuf init failed (${r.code}): ${r.stdout}${r.stderr}`);
      return m[1]!;
    },
    async initLib(tufRef, o = {}) {
      return (await tufInit(tufRef, { ...as, ...o, keys: { root: ['tuf-a'], ...o.keys } })).root;
    },
    publish: (tufRef, ref, o = {}) => tufPublish(tufRef, ref, { ...as, ...o }),
    policyFor: (tufRef, root, extra = {}) => t.policy({ freshness: { tuf: tufRef, root, ...extra } }),
    verifyLib: (ref, p, o = {}) =>
      verify(ref, {
        sources: { trustPolicy: p, trustStore: t.store, defaults: false },
        tagState: new TagState(join(t.home(), 'tags')),
        ...(o.now ? { now: o.now } : {}),
        ...(o.name ? { name: o.name } : {}),
        ...(o.offline ? { revocationData: { offline: true } } : {}),
      }),
    async files(tufRef) {
      const { target, reference } = await open(tufRef);
      try {
        const index = await readBundleIndex(target, reference!);
        const files = new Map<string, Uint8Array>();
        for (const [name, d] of index.files) files.set(name, await fetchAll(target, d));
        return { digest: index.manifest.digest, files };
      } finally {
        await target.close();
      }
    },
    async plant(tufRef, files) {
      const { target, reference } = await open(tufRef);
      try {
        await writeBundle(target, reference!, files);
      } finally {
        await target.close();
      }
    },
    async retag(tufRef, digest) {
      const { target, reference } = await open(tufRef);
      try {
        await target.tag(await target.resolve(digest), reference!);
      } finally {
        await target.close();
      }
    },
    async forgeTimestamp(bytes, key, edit) {
      const json = JSON.parse(Buffer.from(bytes).toString('utf8')) as { signed: { version: number; expires: string } };
      edit(json.signed);
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      const md = Metadata.fromJSON(MetadataKind.Timestamp, { ...json, signatures: [] } as any);
      const k = await t.keys.get(key);
      await signWith(md, [tufSigner(k.privateKey, createPublicKey(k.privateKey))]);
      return Buffer.from(`${JSON.stringify(md.toJSON())}\n`);
    },
    async close() {
      delete process.env.SIGNET_HOME;
      await t.close();
    },
  };
}

/** Where a TUF repository and the releases live: signet serve, Debian's docker-registry (tag-schema referrers), an OCI layout. */
export type StoreKind = 'signet serve' | 'docker-registry (tag schema)' | 'OCI layout';
export const STORE_KINDS: Array<{ kind: StoreKind }> = [
  { kind: 'signet serve' },
  { kind: 'docker-registry (tag schema)' },
  { kind: 'OCI layout' },
];

/** References of one store kind: a release repository, a TUF repository, and the logical name a layout needs. */
export function storeOf(
  b: LayerB,
  kind: StoreKind
): {
  base(repo: string): string;
  tufRef(id: string): string;
  /** `{ name }` for a layout (it has no repository name), `{}` otherwise. */
  name(repo: string): { name?: string };
  cliName(repo: string): string[];
} {
  const layout = kind === 'OCI layout';
  const host = kind === 'signet serve' ? b.t.serve.host : b.t.dist.host;
  const dir = (x: string) => join(b.t.work, 'layouts', x);
  return {
    base: (repo) => (layout ? `oci:${dir(repo)}` : `${host}/${repo}`),
    tufRef: (id) => (layout ? `oci:${dir(`tuf-${id}`)}:tuf` : `${host}/acme/tuf-${id}:latest`),
    name: (repo) => (layout ? { name: repo } : {}),
    cliName: (repo) => (layout ? ['--name', repo] : []),
  };
}

/** Moves `base:tag` back to an earlier digest (what a registry under attack does). */
export async function moveTag(base: string, tag: string, digest: string): Promise<void> {
  const { target } = await openTarget(`${base}@${digest}`, { create: true });
  try {
    await target.tag(await target.resolve(digest), tag);
  } finally {
    await target.close();
  }
}
