import { createHash } from 'node:crypto';
import { Metadata, Root, TargetFile, type Snapshot, type Targets, type Timestamp } from '@tufjs/models';
import { formatReference, type Descriptor } from '../../oci/index.ts';
import { KeyStore } from '../../pki/index.ts';
import { openTarget, resolveOpened } from '../../store/index.ts';
import { parseDuration, SignetError } from '../../util/index.ts';
import { refreshTuf, targetPath } from './client.ts';
import { isDelegatedPath } from './paths.ts';
import { DEFAULT_EXPIRES, readTufConfig, TUF_ROLES, type TufRepoConfig, type TufRole } from './config.ts';
import {
  bytesOf,
  commit,
  expiresAt,
  rewrite,
  signers,
  signWith,
  SPEC_VERSION,
  tagOf,
  type Change,
  type Draft,
  type TufRepoOptions,
  type TufWriteResult,
} from './writer.ts';

/**
 * The commands of Layer B (docs/freshness.md) that make and change releases: `init`, `publish`,
 * `remove`, `timestamp` and `status` (rotate and delegate are in roles.ts). The repository is
 * made with `@tufjs/models`, signed with Signet key-store keys (keys.ts) and stored as one bundle
 * artifact (bundle.ts) under a tag; the write path is writer.ts.
 */

export interface TufInitOptions extends TufRepoOptions {
  keys: Partial<Record<TufRole, string[]>> & { root: string[] };
  thresholds?: Partial<Record<TufRole, number>>;
  /** Milliseconds, or durations such as `2s`, `1d`. */
  expires?: Partial<Record<TufRole, number | string>>;
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
    checkThreshold(role, thresholds[role], keys[role].length);
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
    const byRole = {} as Record<TufRole, Awaited<ReturnType<typeof signers>>>;
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
    const n = await signWith(rootMd, byRole.root);
    const rootBytes = bytesOf(rootMd);
    const config: TufRepoConfig = {
      ref,
      root: `sha256:${createHash('sha256').update(rootBytes).digest('hex')}`,
      keys,
      thresholds,
      expires,
    };
    const draft: Draft = { config, root: rootMd, rootFiles: new Map([[1, rootBytes]]), delegated: new Map() };
    const r = await commit(opened.target, tag, draft, { ownRole: 'targets', config }, opts, now);
    r.roles.unshift({ role: 'root', version: 1, expires: root.expires, signatures: n, threshold: thresholds.root });
    return { root: config.root, ...r };
  } finally {
    await opened.target.close();
  }
}

export function checkThreshold(role: string, threshold: number, keys: number): void {
  if (!Number.isSafeInteger(threshold) || threshold < 1 || threshold > keys)
    throw new SignetError('USAGE', `the ${role} threshold ${threshold} needs 1 to ${keys} (its keys)`);
}

/** The role a target path is (or would be) signed by: `role` if given (its paths must match), else top-level targets. */
function roleFor(d: Draft, path: string, role: string | undefined): string {
  if (!role || role === 'targets') return 'targets';
  const dr = d.targets?.md.signed.delegations?.roles?.[role];
  if (!dr) throw new SignetError('USAGE', `${d.config.ref} has no delegated role ${role} (signet tuf delegate)`);
  if (!isDelegatedPath(dr, path))
    throw new SignetError(
      'USAGE',
      `${path} is outside the paths delegated to ${role} (${(dr.paths ?? []).join(', ')})`
    );
  return role;
}

function filesOf(d: Draft, role: string): Record<string, TargetFile> {
  return { ...(role === 'targets' ? d.targets!.md.signed.targets : (d.delegated.get(role)?.md.signed.targets ?? {})) };
}

function withFiles(role: string, files: Record<string, TargetFile>): Change {
  return role === 'targets'
    ? { ownRole: role, targets: { files } }
    : { ownRole: role, delegated: new Map([[role, files]]) };
}

export interface TufPublishOptions extends TufRepoOptions {
  /** The logical name (required for a layout). */
  name?: string;
  /** A delegated role to sign the target with (its paths must cover it); default the top-level targets. */
  role?: string;
  /** The release already resolved (signet sign --tuf): its descriptor and tag; REF is not resolved again. */
  resolved?: { descriptor: Descriptor; tag: string };
}

/** `signet tuf publish`: adds or updates `oci:<name>:<tag>` with REF's digest (resolved once) and size. */
export async function tufPublish(
  ref: string,
  artifact: string,
  opts: TufPublishOptions = {}
): Promise<TufWriteResult & { path: string; digest: string; size: number; role: string }> {
  const a = await openTarget(artifact, opts.open);
  let desc: Descriptor;
  try {
    desc = opts.resolved?.descriptor ?? (await resolveOpened(a, artifact));
  } finally {
    await a.target.close();
  }
  const p = a.parsed;
  const tag = opts.resolved?.tag ?? p.tag;
  if (!tag) throw new SignetError('USAGE', `${artifact}: tuf publish needs a tag (the target is oci:<name>:<tag>)`);
  const name = opts.name ?? (p.kind === 'registry' ? p.repository : undefined);
  if (!name) throw new SignetError('USAGE', `${formatReference(p)}: a layout has no repository name: give --name NAME`);
  const path = targetPath(name, tag);
  const hex = desc.digest.replace(/^sha256:/, '');
  if (!desc.digest.startsWith('sha256:'))
    throw new SignetError('USAGE', `${desc.digest}: TUF targets take sha256 digests`);
  let role = 'targets';
  const r = await rewrite(ref, opts, (d) => {
    role = roleFor(d, path, opts.role);
    const files = filesOf(d, role);
    files[path] = new TargetFile({
      path,
      length: desc.size,
      hashes: { sha256: hex },
      unrecognizedFields: { custom: { mediaType: desc.mediaType } },
    });
    return withFiles(role, files);
  });
  return { ...r, path, digest: desc.digest, size: desc.size, role };
}

/** `signet tuf remove`: withdraws `oci:<NAME>:<TAG>` from whichever role lists it (or `role`). */
export async function tufRemove(
  ref: string,
  nameTag: string,
  opts: TufRepoOptions & { role?: string } = {}
): Promise<TufWriteResult & { path: string; role: string }> {
  const i = nameTag.lastIndexOf(':');
  if (i <= 0 || nameTag.slice(i + 1).includes('/'))
    throw new SignetError('USAGE', `${nameTag}: give NAME:TAG (e.g. acme/app:1.4)`);
  const path = targetPath(nameTag.slice(0, i), nameTag.slice(i + 1));
  let role = 'targets';
  const r = await rewrite(ref, opts, (d) => {
    const holders = ['targets', ...d.delegated.keys()].filter((x) => filesOf(d, x)[path]);
    role = opts.role ?? holders[0] ?? 'targets';
    const files = filesOf(d, role);
    if (!files[path])
      throw new SignetError('USAGE', `${ref} has no target ${path}${opts.role ? ` in role ${opts.role}` : ''}`);
    delete files[path];
    return withFiles(role, files);
  });
  return { ...r, path, role };
}

/** `signet tuf timestamp`: a new timestamp (and snapshot when it would expire first). */
export async function tufTimestamp(ref: string, opts: TufRepoOptions = {}): Promise<TufWriteResult> {
  return rewrite(ref, opts, () => ({ ownRole: 'timestamp' }));
}

/** Layer C: the TUF target path of a trust-store certificate: `x509:<type>:<name>/<sha256 of its DER>`. */
export function certificateTargetPath(store: string, der: Uint8Array): string {
  return `x509:${store}/${createHash('sha256').update(der).digest('hex')}`;
}

export interface TufTrustResult extends TufWriteResult {
  added: string[];
  removed: string[];
  kept: number;
}

/**
 * `signet tuf trust TUFREF TYPE:NAME`: Layer C. Makes the TUF targets `x509:<type>:<name>/…` the
 * certificates `certs` (the local trust store's, as they are now): new ones are added, those no
 * longer there are removed — which revokes them for every verifier whose statement sets
 * `freshness.trustStore`, offline, protected from replay by the timestamp.
 */
export async function tufTrust(
  ref: string,
  store: string,
  certs: Array<{ der: Uint8Array; subject: string }>,
  opts: TufRepoOptions = {}
): Promise<TufTrustResult> {
  if (!/^(ca|signingAuthority|tsa):[a-zA-Z0-9_.-]+$/.test(store))
    throw new SignetError('USAGE', `${store}: give a trust store as TYPE:NAME (ca:acme, tsa:acme)`);
  const prefix = `x509:${store}/`;
  const wanted = new Map(certs.map((c) => [certificateTargetPath(store, c.der), c]));
  const added: string[] = [];
  const removed: string[] = [];
  let kept = 0;
  const r = await rewrite(ref, opts, (d) => {
    const files = filesOf(d, 'targets');
    for (const path of Object.keys(files))
      if (path.startsWith(prefix) && !wanted.has(path)) {
        delete files[path];
        removed.push(path);
      }
    for (const [path, c] of wanted) {
      if (files[path]) {
        kept++;
        continue;
      }
      files[path] = new TargetFile({
        path,
        length: c.der.length,
        hashes: { sha256: path.slice(prefix.length) },
        unrecognizedFields: { custom: { subject: c.subject } },
      });
      added.push(path);
    }
    return withFiles('targets', files);
  });
  return { ...r, added, removed, kept };
}

export interface TufStatus {
  ref: string;
  root: string;
  bundle: string;
  roles: Array<{ role: string; version: number; expires: string; expired: boolean; threshold: number; keys: number }>;
  targets: Array<{ path: string; digest: string; size: number; role: string }>;
  delegations: Array<{ role: string; paths: string[]; threshold: number; keys: number; terminating: boolean }>;
}

/** `signet tuf status`: versions, expiries, delegations and targets, read through the client workflow (expiry reported, not enforced). */
export async function tufStatus(ref: string, opts: TufRepoOptions & { root?: string } = {}): Promise<TufStatus> {
  const now = opts.now ?? new Date();
  const pin = opts.root ?? (await readTufConfig(ref, opts.home)).root;
  const opened = await openTarget(ref, opts.open);
  try {
    const tag = tagOf(ref, opened);
    const t = await refreshTuf(opened.target, tag, pin, {
      stateDir: false,
      ignoreExpiry: true,
      loadAllDelegated: true,
      now,
    });
    const role = (
      r: string,
      md: Metadata<Root | Targets | Snapshot | Timestamp>,
      th: { threshold: number; keyIDs: string[] }
    ) => ({
      role: r,
      version: md.signed.version,
      expires: md.signed.expires,
      expired: md.signed.isExpired(now),
      threshold: th.threshold,
      keys: th.keyIDs.length,
    });
    const top = (r: TufRole) => t.root.signed.roles[r]!;
    const dRoles = Object.values(t.targets.signed.delegations?.roles ?? {});
    const listed = (r: string, md: Metadata<Targets>) =>
      Object.values(md.signed.targets).map((f) => ({
        path: f.path,
        digest: `sha256:${f.hashes.sha256}`,
        size: f.length,
        role: r,
      }));
    return {
      ref,
      root: pin,
      bundle: t.bundle.digest,
      roles: [
        role('root', t.root, top('root')),
        role('targets', t.targets, top('targets')),
        ...dRoles.filter((d) => t.delegated.has(d.name)).map((d) => role(d.name, t.delegated.get(d.name)!.md, d)),
        role('snapshot', t.snapshot, top('snapshot')),
        role('timestamp', t.timestamp, top('timestamp')),
      ],
      targets: [...listed('targets', t.targets), ...[...t.delegated].flatMap(([r, { md }]) => listed(r, md))].sort(
        (a, b) => a.path.localeCompare(b.path) || a.role.localeCompare(b.role)
      ),
      delegations: dRoles.map((d) => ({
        role: d.name,
        paths: d.paths ?? [],
        threshold: d.threshold,
        keys: d.keyIDs.length,
        terminating: d.terminating,
      })),
    };
  } finally {
    await opened.target.close();
  }
}
