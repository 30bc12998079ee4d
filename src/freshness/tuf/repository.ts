import { createHash, createPublicKey } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Metadata, MetaFile, Root, Snapshot, TargetFile, Targets, Timestamp } from '@tufjs/models';
import { formatReference, type Descriptor } from '../../oci/index.ts';
import { KeyStore } from '../../pki/index.ts';
import { openTarget, resolveOpened, type OpenOptions, type ReadStore } from '../../store/index.ts';
import { parseDuration, SignetError, signetHome, writeFileAtomic } from '../../util/index.ts';
import { writeBundle } from './bundle.ts';
import { refreshTuf, targetPath, type TrustedTuf } from './client.ts';
import { tufSigner, type TufSigningKey } from './keys.ts';

/**
 * The writer of Layer B (docs/freshness.md): a TUF repository per trust domain, made with
 * `@tufjs/models`, signed with Signet key-store keys (keys.ts), stored as one bundle artifact
 * (bundle.ts) under a tag. What `init` was given (key names, thresholds, expiries, the pinned
 * root) is recorded in `$SIGNET_HOME/tuf/<sha256 of TUFREF>.json` and used by every later command.
 */

export const TUF_ROLES = ['root', 'targets', 'snapshot', 'timestamp'] as const;
export type TufRole = (typeof TUF_ROLES)[number];
const SPEC_VERSION = '1.0.31';
const DEFAULT_EXPIRES: Record<TufRole, number> = {
  root: 365 * 86_400_000,
  targets: 90 * 86_400_000,
  snapshot: 7 * 86_400_000,
  timestamp: 86_400_000,
};

/** What `signet tuf init` recorded for one TUFREF. */
export interface TufRepoConfig {
  ref: string;
  /** `sha256:<hex>` of `1.root.json`: what verifiers pin. */
  root: string;
  keys: Record<TufRole, string[]>;
  thresholds: Record<TufRole, number>;
  /** Expiry per role, in milliseconds from signing. */
  expires: Record<TufRole, number>;
}

export interface TufRepoOptions {
  keyStore?: KeyStore;
  /** Where configurations are recorded (default `$SIGNET_HOME`). */
  home?: string;
  /** The signing time (default now). */
  now?: Date;
  open?: OpenOptions;
  /** Sign the command's own role (targets for publish/remove, timestamp for timestamp) with these keys only. */
  signWith?: string[];
}

export interface TufInitOptions extends TufRepoOptions {
  keys: Partial<Record<TufRole, string[]>> & { root: string[] };
  thresholds?: Partial<Record<TufRole, number>>;
  /** Milliseconds, or durations such as `2s`, `1d`. */
  expires?: Partial<Record<TufRole, number | string>>;
}

/** How a role was signed: the new file's version, and signatures made against the threshold. */
export interface RoleSigning {
  role: TufRole;
  version: number;
  expires: string;
  signatures: number;
  threshold: number;
}

export interface TufWriteResult {
  bundle: Descriptor;
  roles: RoleSigning[];
}

function configPath(ref: string, home = signetHome()): string {
  return join(home, 'tuf', `${createHash('sha256').update(ref).digest('hex')}.json`);
}

export async function readTufConfig(ref: string, home?: string): Promise<TufRepoConfig> {
  const p = configPath(ref, home);
  try {
    return JSON.parse(await readFile(p, 'utf8')) as TufRepoConfig;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT')
      throw new SignetError('USAGE', `no TUF repository was initialised here for ${ref} (signet tuf init)`);
    throw new SignetError('STATE_CORRUPT', `${p} is damaged: ${(err as Error).message}`);
  }
}

function expiresAt(now: Date, ms: number): string {
  // TUF expiries are whole seconds (YYYY-MM-DDTHH:MM:SSZ): rounded up, never shorter than asked.
  return new Date(Math.ceil((now.getTime() + ms) / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function bytesOf(md: Metadata<Root | Targets | Snapshot | Timestamp>): Buffer {
  return Buffer.from(`${JSON.stringify(md.toJSON())}\n`);
}

function metaFile(version: number, bytes: Uint8Array): MetaFile {
  return new MetaFile({
    version,
    length: bytes.length,
    hashes: { sha256: createHash('sha256').update(bytes).digest('hex') },
  });
}

async function signers(ks: KeyStore, names: string[]): Promise<TufSigningKey[]> {
  return Promise.all(
    names.map(async (n) => {
      const k = await ks.get(n);
      return tufSigner(k.privateKey, createPublicKey(k.privateKey), `key ${n}`);
    })
  );
}

function signWith(md: Metadata<Root | Targets | Snapshot | Timestamp>, keys: TufSigningKey[]): number {
  for (const k of keys) md.sign((b) => k.sign(b));
  return keys.length;
}

function tagOf(ref: string, opened: { reference: string | undefined; parsed: { digest?: string } }): string {
  if (!opened.reference || opened.parsed.digest)
    throw new SignetError(
      'USAGE',
      `${ref}: a TUF repository is named by a tag (e.g. reg/acme/tuf-metadata:latest or oci:DIR:tuf)`
    );
  return opened.reference;
}

/** `signet tuf init`: a new repository (root v1, empty targets, snapshot, timestamp), pushed under the tag. */
export async function tufInit(ref: string, opts: TufInitOptions): Promise<TufWriteResult & { root: string }> {
  const now = opts.now ?? new Date();
  const ks = opts.keyStore ?? new KeyStore(opts.home);
  if (!opts.keys.root?.length) throw new SignetError('USAGE', 'tuf init needs at least one --root-key');
  const keys = {} as Record<TufRole, string[]>;
  const thresholds = {} as Record<TufRole, number>;
  const expires = {} as Record<TufRole, number>;
  for (const role of TUF_ROLES) {
    keys[role] = [...new Set(opts.keys[role]?.length ? opts.keys[role] : opts.keys.root)];
    thresholds[role] = opts.thresholds?.[role] ?? 1;
    if (!Number.isSafeInteger(thresholds[role]) || thresholds[role] < 1 || thresholds[role] > keys[role].length)
      throw new SignetError(
        'USAGE',
        `the ${role} threshold ${thresholds[role]} needs 1 to ${keys[role].length} (its keys)`
      );
    const e = opts.expires?.[role];
    expires[role] = e === undefined ? DEFAULT_EXPIRES[role] : typeof e === 'number' ? e : parseDuration(e);
  }
  const opened = await openTarget(ref, { ...opts.open, create: true });
  try {
    const tag = tagOf(ref, opened);
    const exists = await opened.target.resolve(tag).then(
      () => true,
      () => false
    );
    if (exists) throw new SignetError('USAGE', `${ref} already exists: a TUF repository is initialised once`);
    const byRole = {} as Record<TufRole, TufSigningKey[]>;
    for (const role of TUF_ROLES) byRole[role] = await signers(ks, keys[role]);
    // Built from its JSON form: the models export no Role constructor.
    const root = Root.fromJSON({
      _type: 'root',
      spec_version: SPEC_VERSION,
      version: 1,
      expires: expiresAt(now, expires.root),
      consistent_snapshot: false,
      keys: Object.fromEntries(TUF_ROLES.flatMap((r) => byRole[r].map((k) => [k.key.keyID, k.key.toJSON()]))),
      roles: Object.fromEntries(
        TUF_ROLES.map((r) => [r, { keyids: [...new Set(byRole[r].map((k) => k.key.keyID))], threshold: thresholds[r] }])
      ),
    });
    const rootMd = new Metadata(root);
    signWith(rootMd, byRole.root);
    const rootBytes = bytesOf(rootMd);
    const config: TufRepoConfig = {
      ref,
      root: `sha256:${createHash('sha256').update(rootBytes).digest('hex')}`,
      keys,
      thresholds,
      expires,
    };
    const files = new Map<string, Uint8Array>([
      ['1.root.json', rootBytes],
      ['root.json', rootBytes],
    ]);
    const roles = await releaseRoles(files, config, byRole, now, { targets: 1, snapshot: 1, timestamp: 1 }, {});
    roles.unshift({
      role: 'root',
      version: 1,
      expires: root.expires,
      signatures: byRole.root.length,
      threshold: thresholds.root,
    });
    const bundle = await writeBundle(opened.target, tag, files);
    const p = configPath(ref, opts.home);
    await mkdir(join(p, '..'), { recursive: true, mode: 0o700 });
    await writeFileAtomic(p, `${JSON.stringify(config, null, 2)}\n`);
    return { root: config.root, bundle, roles };
  } finally {
    await opened.target.close();
  }
}

/** Signs new targets (when `targets` is given), snapshot and timestamp into `files`. */
async function releaseRoles(
  files: Map<string, Uint8Array>,
  config: TufRepoConfig,
  byRole: Record<TufRole, TufSigningKey[]>,
  now: Date,
  versions: { targets?: number; snapshot: number; timestamp: number },
  current: {
    targets?: Metadata<Targets>;
    targetsBytes?: Uint8Array;
    targetFiles?: Record<string, TargetFile>;
    snapshot?: Metadata<Snapshot>;
  }
): Promise<RoleSigning[]> {
  const out: RoleSigning[] = [];
  let targetsMeta: MetaFile;
  if (versions.targets !== undefined) {
    const t = new Metadata(
      new Targets({
        version: versions.targets,
        specVersion: SPEC_VERSION,
        expires: expiresAt(now, config.expires.targets),
        targets: current.targetFiles ?? {},
      })
    );
    const n = signWith(t, byRole.targets);
    const b = bytesOf(t);
    files.set('targets.json', b);
    targetsMeta = metaFile(versions.targets, b);
    out.push({
      role: 'targets',
      version: versions.targets,
      expires: t.signed.expires,
      signatures: n,
      threshold: config.thresholds.targets,
    });
  } else {
    files.set('targets.json', current.targetsBytes!);
    targetsMeta = metaFile(current.targets!.signed.version, current.targetsBytes!);
  }
  let snapMeta: MetaFile;
  if (current.snapshot && versions.snapshot === current.snapshot.signed.version) {
    snapMeta = metaFile(versions.snapshot, files.get('snapshot.json')!);
  } else {
    const s = new Metadata(
      new Snapshot({
        version: versions.snapshot,
        specVersion: SPEC_VERSION,
        expires: expiresAt(now, config.expires.snapshot),
        meta: { 'targets.json': targetsMeta },
      })
    );
    const n = signWith(s, byRole.snapshot);
    const b = bytesOf(s);
    files.set('snapshot.json', b);
    snapMeta = metaFile(versions.snapshot, b);
    out.push({
      role: 'snapshot',
      version: versions.snapshot,
      expires: s.signed.expires,
      signatures: n,
      threshold: config.thresholds.snapshot,
    });
  }
  const ts = new Metadata(
    new Timestamp({
      version: versions.timestamp,
      specVersion: SPEC_VERSION,
      expires: expiresAt(now, config.expires.timestamp),
      snapshotMeta: snapMeta,
    })
  );
  const n = signWith(ts, byRole.timestamp);
  files.set('timestamp.json', bytesOf(ts));
  out.push({
    role: 'timestamp',
    version: versions.timestamp,
    expires: ts.signed.expires,
    signatures: n,
    threshold: config.thresholds.timestamp,
  });
  return out;
}

interface Loaded {
  config: TufRepoConfig;
  trusted: TrustedTuf;
  /** The bundle's files, to carry over (root chain, unchanged roles). */
  files: Map<string, Uint8Array>;
  targetsBytes: Uint8Array;
}

/**
 * The publisher's own repository, read back through the same client workflow from the recorded
 * pinned root (so a registry cannot make the publisher re-sign what it planted); expiry is not
 * checked here, so an expired timestamp can be re-signed.
 */
async function load(store: ReadStore, ref: string, tag: string, opts: TufRepoOptions, now: Date): Promise<Loaded> {
  const config = await readTufConfig(ref, opts.home);
  const trusted = await refreshTuf(store, tag, config.root, { stateDir: false, ignoreExpiry: true, now });
  const files = new Map<string, Uint8Array>();
  let latest: Uint8Array | undefined;
  for (const [v, b] of [...trusted.rootFiles].sort((a, b) => a[0] - b[0])) {
    files.set(`${v}.root.json`, b);
    latest = b;
  }
  files.set('root.json', latest!);
  const targetsBytes = trusted.bytes.targets;
  files.set('snapshot.json', trusted.bytes.snapshot);
  return { config, trusted, files, targetsBytes };
}

async function rewrite(
  ref: string,
  opts: TufRepoOptions,
  change: (l: Loaded) => { targetFiles?: Record<string, TargetFile>; ownRole: TufRole }
): Promise<TufWriteResult> {
  const now = opts.now ?? new Date();
  const ks = opts.keyStore ?? new KeyStore(opts.home);
  const opened = await openTarget(ref, { ...opts.open, create: true });
  try {
    const tag = tagOf(ref, opened);
    const l = await load(opened.target, ref, tag, opts, now);
    const { targetFiles, ownRole } = change(l);
    const byRole = {} as Record<TufRole, TufSigningKey[]>;
    for (const role of TUF_ROLES) {
      if (role === 'root') continue;
      byRole[role] = await signers(ks, role === ownRole && opts.signWith?.length ? opts.signWith : l.config.keys[role]);
    }
    const t = l.trusted;
    const snapExpiresSoon = new Date(t.snapshot.signed.expires).getTime() < now.getTime() + l.config.expires.timestamp;
    const newSnapshot = targetFiles !== undefined || snapExpiresSoon;
    const roles = await releaseRoles(
      l.files,
      l.config,
      byRole,
      now,
      {
        ...(targetFiles !== undefined ? { targets: t.targets.signed.version + 1 } : {}),
        snapshot: newSnapshot ? t.snapshot.signed.version + 1 : t.snapshot.signed.version,
        timestamp: t.timestamp.signed.version + 1,
      },
      {
        targets: t.targets,
        targetsBytes: l.targetsBytes,
        ...(targetFiles ? { targetFiles } : {}),
        snapshot: t.snapshot,
      }
    );
    const bundle = await writeBundle(opened.target, tag, l.files);
    return { bundle, roles };
  } finally {
    await opened.target.close();
  }
}

/** `signet tuf publish`: adds or updates `oci:<name>:<tag>` with REF's digest (resolved once) and size. */
export async function tufPublish(
  ref: string,
  artifact: string,
  opts: TufRepoOptions & { name?: string } = {}
): Promise<TufWriteResult & { path: string; digest: string; size: number }> {
  const a = await openTarget(artifact, opts.open);
  let desc: Descriptor;
  try {
    desc = await resolveOpened(a, artifact);
  } finally {
    await a.target.close();
  }
  const p = a.parsed;
  const tag = p.tag;
  if (!tag) throw new SignetError('USAGE', `${artifact}: tuf publish needs a tag (the target is oci:<name>:<tag>)`);
  const name = opts.name ?? (p.kind === 'registry' ? p.repository : undefined);
  if (!name) throw new SignetError('USAGE', `${formatReference(p)}: a layout has no repository name: give --name NAME`);
  const path = targetPath(name, tag);
  const hex = desc.digest.replace(/^sha256:/, '');
  if (!desc.digest.startsWith('sha256:'))
    throw new SignetError('USAGE', `${desc.digest}: TUF targets take sha256 digests`);
  const r = await rewrite(ref, opts, (l) => {
    const targetFiles = { ...l.trusted.targets.signed.targets };
    targetFiles[path] = new TargetFile({
      path,
      length: desc.size,
      hashes: { sha256: hex },
      unrecognizedFields: { custom: { mediaType: desc.mediaType } },
    });
    return { targetFiles, ownRole: 'targets' };
  });
  return { ...r, path, digest: desc.digest, size: desc.size };
}

/** `signet tuf remove`: withdraws `oci:<NAME>:<TAG>`. */
export async function tufRemove(
  ref: string,
  nameTag: string,
  opts: TufRepoOptions = {}
): Promise<TufWriteResult & { path: string }> {
  const i = nameTag.lastIndexOf(':');
  if (i <= 0 || nameTag.slice(i + 1).includes('/'))
    throw new SignetError('USAGE', `${nameTag}: give NAME:TAG (e.g. acme/app:1.4)`);
  const path = targetPath(nameTag.slice(0, i), nameTag.slice(i + 1));
  const r = await rewrite(ref, opts, (l) => {
    const targetFiles = { ...l.trusted.targets.signed.targets };
    if (!targetFiles[path]) throw new SignetError('USAGE', `${ref} has no target ${path}`);
    delete targetFiles[path];
    return { targetFiles, ownRole: 'targets' };
  });
  return { ...r, path };
}

/** `signet tuf timestamp`: a new timestamp (and snapshot when it would expire first). */
export async function tufTimestamp(ref: string, opts: TufRepoOptions = {}): Promise<TufWriteResult> {
  return rewrite(ref, opts, () => ({ ownRole: 'timestamp' }));
}

export interface TufStatus {
  ref: string;
  root: string;
  bundle: string;
  roles: Array<{ role: TufRole; version: number; expires: string; expired: boolean; threshold: number; keys: number }>;
  targets: Array<{ path: string; digest: string; size: number }>;
}

/** `signet tuf status`: versions, expiries and targets, read through the client workflow (expiry reported, not enforced). */
export async function tufStatus(ref: string, opts: TufRepoOptions & { root?: string } = {}): Promise<TufStatus> {
  const now = opts.now ?? new Date();
  const pin = opts.root ?? (await readTufConfig(ref, opts.home)).root;
  const opened = await openTarget(ref, opts.open);
  try {
    const tag = tagOf(ref, opened);
    const t = await refreshTuf(opened.target, tag, pin, { stateDir: false, ignoreExpiry: true, now });
    const role = (r: TufRole, md: Metadata<Root | Targets | Snapshot | Timestamp>) => ({
      role: r,
      version: md.signed.version,
      expires: md.signed.expires,
      expired: md.signed.isExpired(now),
      threshold: t.root.signed.roles[r]!.threshold,
      keys: t.root.signed.roles[r]!.keyIDs.length,
    });
    return {
      ref,
      root: pin,
      bundle: t.bundle.digest,
      roles: [
        role('root', t.root),
        role('targets', t.targets),
        role('snapshot', t.snapshot),
        role('timestamp', t.timestamp),
      ],
      targets: Object.values(t.targets.signed.targets)
        .map((f) => ({ path: f.path, digest: `sha256:${f.hashes.sha256}`, size: f.length }))
        .sort((a, b) => a.path.localeCompare(b.path)),
    };
  } finally {
    await opened.target.close();
  }
}
