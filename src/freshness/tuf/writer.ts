import { createHash, createPublicKey } from 'node:crypto';
import { Metadata, MetaFile, Signature, Snapshot, Targets, Timestamp, type Root, type TargetFile } from '@tufjs/models';
import type { Descriptor } from '../../oci/index.ts';
import { KeyStore } from '../../pki/index.ts';
import { openTarget, type OpenOptions, type Target } from '../../store/index.ts';
import { SignetError } from '../../util/index.ts';
import { writeBundle } from './bundle.ts';
import { refreshTuf } from './client.ts';
import { readTufConfig, roleKeys, writeTufConfig, type TufRepoConfig } from './config.ts';
import { pluginTufSigner, tufSigner, type TufSigningKey } from './keys.ts';

/**
 * The write path every `signet tuf` command shares (docs/freshness.md, Layer B): read the
 * repository back through the client workflow from the recorded pinned root (so a registry
 * cannot make the publisher re-sign what it planted), apply one change, sign what changed with
 * the recorded keys, bump snapshot and timestamp, and push the whole state as one bundle.
 */

export const SPEC_VERSION = '1.0.31';

/** A `delegations` object in its JSON form (the models do not export their Delegations class). */
export type DelegationsJson = Record<string, unknown>;

export interface TufRepoOptions {
  keyStore?: KeyStore;
  /** Where configurations are recorded (default `$SIGNET_HOME`). */
  home?: string;
  /** The signing time (default now). */
  now?: Date;
  open?: OpenOptions;
  /** Sign the command's own role (targets or the delegated role for publish/remove, timestamp for timestamp) with these keys only. */
  signWith?: string[];
}

/** How a role was signed: the new file's version, and signatures made against the threshold. */
export interface RoleSigning {
  role: string;
  version: number;
  expires: string;
  signatures: number;
  threshold: number;
}

export interface TufWriteResult {
  bundle: Descriptor;
  roles: RoleSigning[];
}

/** The repository as the writer holds it; at init only the root exists. */
export interface Draft {
  config: TufRepoConfig;
  root: Metadata<Root>;
  rootFiles: Map<number, Uint8Array>;
  targets?: { md: Metadata<Targets>; bytes: Uint8Array };
  delegated: Map<string, { md: Metadata<Targets>; bytes: Uint8Array }>;
  snapshot?: { md: Metadata<Snapshot>; bytes: Uint8Array };
  timestamp?: Metadata<Timestamp>;
}

/** One change to a repository. */
export interface Change {
  /** The role whose signing keys `signWith` replaces. */
  ownRole: string;
  /** A new root, already signed (rotate). */
  root?: { md: Metadata<Root>; bytes: Uint8Array };
  /** New top-level targets (their files, and delegations when they change). */
  targets?: { files: Record<string, TargetFile>; delegations?: DelegationsJson };
  /** New contents of delegated roles (a role new to the repository starts at version 1). */
  delegated?: Map<string, Record<string, TargetFile>>;
  /** Sign a new snapshot even when no targets changed (its keys rotated). */
  snapshot?: boolean;
  /** The configuration to record afterwards (rotate, delegate). */
  config?: TufRepoConfig;
}

export function expiresAt(now: Date, ms: number): string {
  // TUF expiries are whole seconds (YYYY-MM-DDTHH:MM:SSZ): rounded up, never shorter than asked.
  return new Date(Math.ceil((now.getTime() + ms) / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function bytesOf(md: Metadata<Root | Targets | Snapshot | Timestamp>): Buffer {
  return Buffer.from(`${JSON.stringify(md.toJSON())}\n`);
}

function metaFile(version: number, bytes: Uint8Array): MetaFile {
  return new MetaFile({
    version,
    length: bytes.length,
    hashes: { sha256: createHash('sha256').update(bytes).digest('hex') },
  });
}

/** Signers for Signet key names: local keys, or keys a Notary plugin holds (`signet key add NAME --plugin P --id ID`). */
export async function signers(ks: KeyStore, names: string[]): Promise<TufSigningKey[]> {
  return Promise.all(
    names.map(async (n) => {
      const viaPlugin = await ks.pluginKey(n);
      if (viaPlugin) {
        const { PluginClient, PluginSigner } = await import('../../plugin/index.ts');
        const client = await PluginClient.open(viaPlugin.pluginName, { home: ks.home });
        const signer = new PluginSigner(client, viaPlugin.id, viaPlugin.pluginConfig);
        const leaf = (await signer.certificateChain())[0]!;
        return pluginTufSigner(leaf.publicKey, (b) => signer.sign(b, 'ECDSA-SHA-256'), `plugin key ${n}`);
      }
      const k = await ks.get(n);
      return tufSigner(k.privateKey, createPublicKey(k.privateKey), `key ${n}`);
    })
  );
}

/** Signs `md` with each key: the canonical bytes come from `Metadata.sign`, the signature may be awaited. */
export async function signWith(
  md: Metadata<Root | Targets | Snapshot | Timestamp>,
  keys: TufSigningKey[]
): Promise<number> {
  for (const k of keys) {
    let canonical: Buffer | undefined;
    md.sign((b) => {
      canonical = b;
      return new Signature({ keyID: k.key.keyID, sig: '' });
    });
    md.signatures[k.key.keyID] = await k.sign(canonical!);
  }
  return keys.length;
}

export function tagOf(ref: string, opened: { reference: string | undefined; parsed: { digest?: string } }): string {
  if (!opened.reference || opened.parsed.digest)
    throw new SignetError(
      'USAGE',
      `${ref}: a TUF repository is named by a tag (e.g. reg/acme/tuf-metadata:latest or oci:DIR:tuf)`
    );
  return opened.reference;
}

/**
 * Signs what `change` changes into a new bundle under `tag`: targets-family roles that changed
 * get version + 1, the snapshot is re-signed when one of them changed (or it would expire before
 * the next timestamp), and the timestamp always.
 */
export async function commit(
  target: Target,
  tag: string,
  draft: Draft,
  change: Change,
  opts: TufRepoOptions,
  now: Date
): Promise<TufWriteResult> {
  const ks = opts.keyStore ?? new KeyStore(opts.home);
  const config = change.config ?? draft.config;
  const out: RoleSigning[] = [];
  const signRole = async (role: string, md: Metadata<Root | Targets | Snapshot | Timestamp>): Promise<Buffer> => {
    const { keys, threshold } = roleKeys(config, role);
    const names = role === change.ownRole && opts.signWith?.length ? opts.signWith : keys;
    const n = await signWith(md, await signers(ks, names));
    out.push({ role, version: md.signed.version, expires: md.signed.expires, signatures: n, threshold });
    return bytesOf(md);
  };

  const files = new Map<string, Uint8Array>();
  const rootFiles = new Map(draft.rootFiles);
  if (change.root) rootFiles.set(change.root.md.signed.version, change.root.bytes);
  const chain = [...rootFiles].sort((a, b) => a[0] - b[0]);
  for (const [v, b] of chain) files.set(`${v}.root.json`, b);
  files.set('root.json', chain[chain.length - 1]![1]);

  let targetsChanged = false;
  let targetsFile: { version: number; bytes: Uint8Array };
  if (change.targets || !draft.targets) {
    const prev = draft.targets?.md.signed;
    const plain = new Targets({
      version: (prev?.version ?? 0) + 1,
      specVersion: SPEC_VERSION,
      expires: expiresAt(now, config.expires.targets),
      targets: change.targets?.files ?? prev?.targets ?? {},
    });
    const delegations = change.targets?.delegations ?? prev?.delegations?.toJSON();
    const t = new Metadata(
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      delegations ? Targets.fromJSON({ ...plain.toJSON(), delegations } as any) : plain
    );
    targetsFile = { version: t.signed.version, bytes: await signRole('targets', t) };
    targetsChanged = true;
  } else targetsFile = { version: draft.targets.md.signed.version, bytes: draft.targets.bytes };
  files.set('targets.json', targetsFile.bytes);
  const meta: Record<string, MetaFile> = { 'targets.json': metaFile(targetsFile.version, targetsFile.bytes) };

  const roles = new Set([...draft.delegated.keys(), ...(change.delegated?.keys() ?? [])]);
  for (const role of [...roles].sort()) {
    const prev = draft.delegated.get(role);
    const next = change.delegated?.get(role);
    let version: number;
    let bytes: Uint8Array;
    if (next) {
      const t = new Metadata(
        new Targets({
          version: (prev?.md.signed.version ?? 0) + 1,
          specVersion: SPEC_VERSION,
          expires: expiresAt(now, config.expires.targets),
          targets: next,
        })
      );
      version = t.signed.version;
      bytes = await signRole(role, t);
      targetsChanged = true;
    } else {
      version = prev!.md.signed.version;
      bytes = prev!.bytes;
    }
    files.set(`${role}.json`, bytes);
    meta[`${role}.json`] = metaFile(version, bytes);
  }

  const snap = draft.snapshot?.md;
  const expiresSoon = !snap || new Date(snap.signed.expires).getTime() < now.getTime() + config.expires.timestamp;
  let snapFile: { version: number; bytes: Uint8Array };
  if (targetsChanged || change.snapshot || expiresSoon) {
    const s = new Metadata(
      new Snapshot({
        version: (snap?.signed.version ?? 0) + 1,
        specVersion: SPEC_VERSION,
        expires: expiresAt(now, config.expires.snapshot),
        meta,
      })
    );
    snapFile = { version: s.signed.version, bytes: await signRole('snapshot', s) };
  } else snapFile = { version: snap.signed.version, bytes: draft.snapshot!.bytes };
  files.set('snapshot.json', snapFile.bytes);

  const ts = new Metadata(
    new Timestamp({
      version: (draft.timestamp?.signed.version ?? 0) + 1,
      specVersion: SPEC_VERSION,
      expires: expiresAt(now, config.expires.timestamp),
      snapshotMeta: metaFile(snapFile.version, snapFile.bytes),
    })
  );
  files.set('timestamp.json', await signRole('timestamp', ts));

  const bundle = await writeBundle(target, tag, files);
  if (change.config) await writeTufConfig(change.config, opts.home);
  return { bundle, roles: out };
}

/**
 * Opens TUFREF, reads the publisher's repository back through the client workflow from the
 * recorded root (expiry not enforced, so an expired timestamp can be re-signed; one key of a
 * role enough, so a release signed below threshold can be signed again), and commits `change`.
 */
export async function rewrite(
  ref: string,
  opts: TufRepoOptions,
  change: (d: Draft) => Change | Promise<Change>
): Promise<TufWriteResult> {
  const now = opts.now ?? new Date();
  const opened = await openTarget(ref, { ...opts.open, create: true });
  try {
    const tag = tagOf(ref, opened);
    const config = await readTufConfig(ref, opts.home);
    const t = await refreshTuf(opened.target, tag, config.root, {
      stateDir: false,
      ignoreExpiry: true,
      loadAllDelegated: true,
      now,
    });
    const draft: Draft = {
      config,
      root: t.root,
      rootFiles: t.rootFiles,
      targets: { md: t.targets, bytes: t.bytes.targets },
      delegated: t.delegated,
      snapshot: { md: t.snapshot, bytes: t.bytes.snapshot },
      timestamp: t.timestamp,
    };
    return await commit(opened.target, tag, draft, await change(draft), opts, now);
  } finally {
    await opened.target.close();
  }
}
