import { createHash } from 'node:crypto';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import {
  Metadata,
  MetadataKind,
  type MetaFile,
  type Root,
  type Snapshot,
  type TargetFile,
  type Targets,
  type Timestamp,
} from '@tufjs/models';
import type { Descriptor } from '../../oci/index.ts';
import type { ReadStore } from '../../store/index.ts';
import { SignetError, writeFileAtomic } from '../../util/index.ts';
import { stateHome } from '../home.ts';
import { withLock } from '../lock.ts';
import { readBundleIndex, readMetadataFile, type BundleIndex } from './bundle.ts';
import { rolesForTarget } from './paths.ts';

/**
 * The TUF client workflow (tuf-spec 1.0.34, "Detailed client workflow" §5.1–5.6), written here on
 * `@tufjs/models`. This is the ONE place where TUF logic is hand-written: tuf-js's `Updater`
 * fixes its reference time to `new Date()` inside its (unexported) trusted store, and a verifier
 * needs an explicit reference time (tests, air gap, `--at`); the models still do the parsing,
 * the canonical JSON and every signature/threshold check (`verifyDelegate`). Step numbers below
 * are the spec's. The metadata come from the bundle artifact (bundle.ts), each read with a cap.
 */

/** Size caps per metadata file (tuf-js's defaults) and the root-rotation cap (§5.3.1). */
export interface TufCaps {
  root: number;
  timestamp: number;
  snapshot: number;
  targets: number;
  rootRotations: number;
  /** Delegated targets roles visited in one target search (§5.6.7.1; tuf-js's default). */
  delegations: number;
}
export const DEFAULT_TUF_CAPS: TufCaps = {
  root: 512_000,
  timestamp: 16_384,
  snapshot: 2_000_000,
  targets: 5_000_000,
  rootRotations: 256,
  delegations: 32,
};

export interface RefreshOptions {
  /** The reference time of every expiry check (§5.1); default now. */
  now?: Date;
  /** Where the trusted metadata are kept; default `$SIGNET_HOME/state/tuf/<pinned root hex>`; false: none (the writer). */
  stateDir?: string | false;
  caps?: Partial<TufCaps>;
  /**
   * The writer only: expiries are not checked (re-signing an expired timestamp must be possible)
   * and one key of a non-root role is enough (re-signing a release signed below threshold).
   */
  ignoreExpiry?: boolean;
  /**
   * Air gap (`--offline`): the reference time is never earlier than the latest one a refresh of
   * this root succeeded at (kept in the state), and timestamp, snapshot and targets metadata
   * that expired at most `grace` milliseconds before it are accepted, reported in `stale`. The
   * root's expiry is never relaxed. Without `grace`, offline still keeps the clock monotonic.
   */
  offline?: { grace?: number };
  /** The writer: every delegated role the snapshot lists is read (it rewrites them). */
  loadAllDelegated?: boolean;
}

export interface TrustedTuf {
  /** The bundle manifest read (resolved once). */
  bundle: Descriptor;
  referenceTime: Date;
  root: Metadata<Root>;
  /** The root chain's files as read from the bundle (all of them when there was no state). */
  rootFiles: Map<number, Uint8Array>;
  timestamp: Metadata<Timestamp>;
  snapshot: Metadata<Snapshot>;
  targets: Metadata<Targets>;
  /** The bytes read of the bundle's current timestamp, snapshot and targets files. */
  bytes: { timestamp: Uint8Array; snapshot: Uint8Array; targets: Uint8Array };
  /** Delegated targets roles read so far (all of them with `loadAllDelegated`), by role name. */
  delegated: Map<string, { md: Metadata<Targets>; bytes: Uint8Array }>;
  /** Offline only: the roles accepted past their expiry, and by how much. */
  stale: string[];
  /**
   * §5.6.7: the target of `path`, searched pre-order depth-first through the delegations (the
   * role's own targets first, then each delegated role whose paths match, stopping at a
   * terminating one), each delegated role read and verified on the way. Undefined: no role has it.
   */
  findTarget(path: string): Promise<{ target: TargetFile; role: string } | undefined>;
}

type Kind = 'root' | 'timestamp' | 'snapshot' | 'targets';
type Md = Metadata<Root> | Metadata<Timestamp> | Metadata<Snapshot> | Metadata<Targets>;
const KINDS: Record<Kind, MetadataKind> = {
  root: MetadataKind.Root,
  timestamp: MetadataKind.Timestamp,
  snapshot: MetadataKind.Snapshot,
  targets: MetadataKind.Targets,
};

function fail(message: string): never {
  throw new SignetError('VERIFICATION_FAILED', `TUF: ${message}`);
}

function parse<K extends Kind>(
  kind: K,
  bytes: Uint8Array,
  what: string
): K extends 'root'
  ? Metadata<Root>
  : K extends 'timestamp'
    ? Metadata<Timestamp>
    : K extends 'snapshot'
      ? Metadata<Snapshot>
      : Metadata<Targets> {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (err) {
    fail(`${what} is not JSON: ${(err as Error).message}`);
  }
  let md: Md;
  try {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    md = Metadata.fromJSON(KINDS[kind] as any, json as any) as any;
  } catch (err) {
    fail(`${what} is not ${kind} metadata: ${(err as Error).message}`);
  }
  // The signatures are checked over the models' re-serialization of what they read, not over the
  // bytes: content they drop (another entry beside snapshot.json in a timestamp's meta, a
  // `__proto__` key) would ride along unsigned. So the signed part must read back as it was written.
  let reread: unknown;
  try {
    reread = JSON.parse(JSON.stringify(md.signed.toJSON()));
  } catch (err) {
    fail(`${what} cannot be serialized again: ${(err as Error).message}`);
  }
  let same: boolean;
  try {
    same = isDeepStrictEqual((json as { signed?: unknown }).signed, reread);
  } catch (err) {
    // RangeError: a document nested deeper than the stack (the signature check would fail on it too)
    fail(`${what} cannot be compared with what the models read: ${(err as Error).message}`);
  }
  if (!same)
    fail(
      `${what} has signed content the ${kind} metadata model does not read (it would not be covered by the signatures)`
    );
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return md as any;
}

/**
 * A threshold of `delegator`'s keys for `role` signed `md` (the models' check), as a verdict.
 * `oneKey` (the writer reading its own repository back, never a verifier): one valid signature
 * by a key of the role suffices for a non-root role, so a release signed below its threshold can
 * be signed again properly, while metadata signed by none of the role's keys is still refused.
 */
function threshold(
  delegator: Metadata<Root> | Metadata<Targets>,
  role: string,
  md: Md,
  what: string,
  oneKey = false
): void {
  try {
    delegator.verifyDelegate(role, md);
  } catch (err) {
    const d = delegator.signed;
    const isRoot = d.type === MetadataKind.Root;
    const r = isRoot ? (d as Root).roles[role] : (d as Targets).delegations?.roles?.[role];
    const keys = isRoot ? (d as Root).keys : ((d as Targets).delegations?.keys ?? {});
    const signedByOne = (id: string): boolean => {
      try {
        keys[id]?.verifySignature(md);
        return Boolean(keys[id]);
      } catch {
        return false;
      }
    };
    if (oneKey && role !== 'root' && (r?.keyIDs ?? []).some(signedByOne)) return;
    fail(`${what}: ${(err as Error).message} (threshold ${r?.threshold ?? '?'})`);
  }
}

/** Expiry at the reference time; within an offline grace it is accepted and noted in `stale`. */
function expired(
  md: Md,
  now: Date,
  what: string,
  ignore: boolean | undefined,
  grace?: { ms: number; stale: string[] }
): void {
  if (ignore || !md.signed.isExpired(now)) return;
  const late = now.getTime() - new Date(md.signed.expires).getTime();
  if (grace && late <= grace.ms) {
    grace.stale.push(
      `${what} expired ${md.signed.expires}, ${formatAge(late)} before the reference time (offline grace ${formatAge(grace.ms)})`
    );
    return;
  }
  fail(
    `${what} expired ${md.signed.expires} (reference time ${now.toISOString()}${grace ? `, ${formatAge(late)} ago, past the offline grace of ${formatAge(grace.ms)}` : ''}): a freeze, or no fresh metadata`
  );
}

function formatAge(ms: number): string {
  const h = ms / 3_600_000;
  return h >= 36 ? `${(h / 24).toFixed(1)}d` : h >= 1 ? `${h.toFixed(1)}h` : `${Math.max(0, Math.round(ms / 60_000))}m`;
}

function sameKeys(a: Metadata<Root>, b: Metadata<Root>, role: string): boolean {
  const x = a.signed.roles[role];
  const y = b.signed.roles[role];
  return Boolean(x && y && x.threshold === y.threshold && [...x.keyIDs].sort().join() === [...y.keyIDs].sort().join());
}

/** The trusted metadata of one pinned root, kept under a lock, each file only ever replaced by a higher version. */
class TrustedFiles {
  constructor(readonly dir: string) {}
  async read<K extends Kind>(kind: K): Promise<ReturnType<typeof parse<K>> | undefined> {
    let bytes: Buffer;
    try {
      bytes = await readFile(join(this.dir, `${kind}.json`));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new SignetError('IO', `cannot read the TUF state ${this.dir}: ${(err as Error).message}`);
    }
    try {
      return parse(kind, bytes, `trusted ${kind}.json`);
    } catch (err) {
      throw new SignetError(
        'STATE_CORRUPT',
        `the TUF state ${this.dir}/${kind}.json is damaged: ${(err as Error).message}`
      );
    }
  }
  /** Raises a file; never lowers it (a parallel verification may have raised it meanwhile). */
  async keep(kind: Kind, md: Md, bytes: Uint8Array): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await withLock(join(this.dir, 'state'), async () => {
      const now = await this.read(kind);
      if (!now || md.signed.version > now.signed.version) await writeFileAtomic(join(this.dir, `${kind}.json`), bytes);
    });
  }
  /** The latest reference time a refresh succeeded at (the offline clock floor). */
  async clock(): Promise<Date | undefined> {
    try {
      const t = JSON.parse(await readFile(join(this.dir, 'clock.json'), 'utf8')) as { referenceTime?: unknown };
      const d = new Date(String(t.referenceTime));
      if (Number.isNaN(d.getTime())) throw new Error('no referenceTime');
      return d;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new SignetError(
        'STATE_CORRUPT',
        `the TUF state ${this.dir}/clock.json is damaged: ${(err as Error).message}`
      );
    }
  }
  /** Raises the clock floor; never lowers it. */
  async raiseClock(t: Date): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await withLock(join(this.dir, 'state'), async () => {
      const cur = await this.clock();
      if (!cur || t > cur)
        await writeFileAtomic(join(this.dir, 'clock.json'), `${JSON.stringify({ referenceTime: t.toISOString() })}\n`);
    });
  }
  /** §5.3.11: after a verified rotation of the timestamp or snapshot keys, the old ones are forgotten. */
  async forget(kinds: Kind[]): Promise<void> {
    await withLock(join(this.dir, 'state'), async () => {
      for (const k of kinds) await rm(join(this.dir, `${k}.json`), { force: true });
    });
  }
}

/** Parses `sha256:<hex>` (the pinned digest of the first root's bytes). */
export function parseRootPin(pin: string): string {
  const m = /^sha256:([0-9a-f]{64})$/.exec(pin);
  if (!m) throw new SignetError('USAGE', `a TUF root pin is sha256:<64 hex digits>, not ${JSON.stringify(pin)}`);
  return m[1]!;
}

/** The default state directory of a pinned root. */
export function tufStateDir(pin: string): string {
  return join(stateHome(), 'tuf', parseRootPin(pin));
}

/**
 * Refreshes the TUF metadata of the bundle `reference` in `store` from the root pinned by `pin`
 * (the sha256 of `1.root.json`'s bytes: never trust on first use) and returns what is trusted.
 * Every failure throws (VERIFICATION_FAILED, SIZE_EXCEEDED, …); nothing is trusted on error.
 */
export async function refreshTuf(
  store: ReadStore,
  reference: string,
  pin: string,
  options: RefreshOptions = {}
): Promise<TrustedTuf> {
  const pinHex = parseRootPin(pin);
  const caps = { ...DEFAULT_TUF_CAPS, ...options.caps };
  const state = options.stateDir === false ? undefined : new TrustedFiles(options.stateDir ?? tufStateDir(pin));
  // §5.1: the fixed update start time, the reference time of every expiry check below. Offline,
  // it never goes back before the latest one a refresh of this root succeeded at (a clock set
  // back on an air-gapped machine cannot revive expired metadata).
  let now = options.now ?? new Date();
  const floor = options.offline ? await state?.clock() : undefined;
  if (floor && floor > now) now = floor;
  const noExpiry = options.ignoreExpiry;
  const stale: string[] = [];
  const grace = options.offline?.grace !== undefined ? { ms: options.offline.grace, stale } : undefined;
  const index: BundleIndex = await readBundleIndex(store, reference);
  const at = `${store.name}:${reference}`;
  const rootFiles = new Map<number, Uint8Array>();
  /**
   * A file the timestamp or snapshot lists: a layer of another length than listed is a
   * mix-and-match, refused before it is read; then the listed hashes (§5.5.2, §5.6.2).
   */
  const readListed = async (file: string, meta: MetaFile, cap: number, by: string): Promise<Uint8Array> => {
    const layer = index.files.get(file);
    if (!layer) fail(`${at} has no ${file}`);
    if (meta.length !== undefined && layer.size !== meta.length)
      fail(`${file} is ${layer.size} bytes, but ${by} lists ${meta.length} (a mix-and-match): not read`);
    const bytes = (await readMetadataFile(store, index, file, Math.min(meta.length ?? cap, cap)))!;
    try {
      meta.verify(Buffer.from(bytes));
    } catch (err) {
      fail(`${file} does not match ${by} (a mix-and-match): ${(err as Error).message}`);
    }
    return bytes;
  };

  // §5.2: load the trusted root: the one kept from an earlier refresh, else the pinned first root.
  const kept = await state?.read('root');
  let trustedTs = await state?.read('timestamp');
  let trustedSnap = await state?.read('snapshot');
  let trustedTargets = await state?.read('targets');
  let root: Metadata<Root>;
  if (kept) root = kept;
  else {
    const first = await readMetadataFile(store, index, '1.root.json', caps.root);
    if (!first) fail(`${at} has no 1.root.json: cannot start from the pinned root`);
    const got = createHash('sha256').update(first).digest('hex');
    if (got !== pinHex) fail(`${at}: 1.root.json is sha256:${got}, not the pinned root sha256:${pinHex}`);
    root = parse('root', first, '1.root.json');
    if (root.signed.version !== 1) fail(`1.root.json has version ${root.signed.version}`);
    threshold(root, 'root', root, '1.root.json is not signed by its own root threshold');
    rootFiles.set(1, first);
    await state?.keep('root', root, first);
  }

  // §5.3: update the root: N+1.root.json, each signed by a threshold of the trusted root's keys
  // and of its own (§5.3.4), with exactly version N+1 (§5.3.5), up to the rotation cap (§5.3.1).
  for (let i = 0; i < caps.rootRotations; i++) {
    const next = root.signed.version + 1;
    const bytes = await readMetadataFile(store, index, `${next}.root.json`, caps.root);
    if (!bytes) break;
    const m = parse('root', bytes, `${next}.root.json`);
    threshold(root, 'root', m, `${next}.root.json is not signed by the trusted root's threshold`);
    threshold(m, 'root', m, `${next}.root.json is not signed by its own root threshold`);
    if (m.signed.version !== next) fail(`${next}.root.json has version ${m.signed.version}: a rollback`);
    // §5.3.6: the expiry of an intermediate root does not matter. §5.3.11: when the timestamp or
    // snapshot keys rotated, forget the trusted timestamp and snapshot (fast-forward recovery).
    // The trusted targets go with them, and when the targets keys rotated: Signet also refuses a
    // targets version below the trusted one, which must not outlive the keys that signed it.
    if (!sameKeys(root, m, 'timestamp') || !sameKeys(root, m, 'snapshot')) {
      trustedTs = undefined;
      trustedSnap = undefined;
      trustedTargets = undefined;
      await state?.forget(['timestamp', 'snapshot', 'targets']);
    } else if (!sameKeys(root, m, 'targets')) {
      trustedTargets = undefined;
      await state?.forget(['targets']);
    }
    root = m; // §5.3.7
    rootFiles.set(next, bytes);
    await state?.keep('root', m, bytes); // §5.3.8
  }
  // §5.3.10: the final root must not be expired (freeze).
  expired(root, now, `root version ${root.signed.version}`, noExpiry);

  // §5.4: timestamp, with its cap (§5.4.1) and the root's threshold (§5.4.2).
  const tsBytes = await readMetadataFile(store, index, 'timestamp.json', caps.timestamp);
  if (!tsBytes) fail(`${at} has no timestamp.json`);
  let ts = parse('timestamp', tsBytes, 'timestamp.json');
  threshold(root, 'timestamp', ts, 'timestamp.json', noExpiry);
  // §5.4.3: no rollback of the timestamp nor of the snapshot version it names; an equal version keeps the trusted one.
  if (trustedTs) {
    if (ts.signed.version < trustedTs.signed.version)
      fail(`timestamp version ${ts.signed.version} is older than the trusted ${trustedTs.signed.version}: a rollback`);
    if (ts.signed.snapshotMeta.version < trustedTs.signed.snapshotMeta.version)
      fail(
        `timestamp names snapshot version ${ts.signed.snapshotMeta.version}, older than the trusted ${trustedTs.signed.snapshotMeta.version}: a rollback`
      );
    if (ts.signed.version === trustedTs.signed.version) ts = trustedTs;
  }
  expired(ts, now, `timestamp version ${ts.signed.version}`, noExpiry, grace); // §5.4.4
  await state?.keep('timestamp', ts, tsBytes); // §5.4.5

  // §5.5: snapshot, read with the length the timestamp gives (or the cap), hashes first (§5.5.2).
  const sm = ts.signed.snapshotMeta;
  const snapBytes = await readListed('snapshot.json', sm, caps.snapshot, 'the timestamp');
  const snap = parse('snapshot', snapBytes, 'snapshot.json');
  threshold(root, 'snapshot', snap, 'snapshot.json', noExpiry); // §5.5.3
  if (snap.signed.version !== sm.version)
    // §5.5.4
    fail(`snapshot version ${snap.signed.version} is not the version ${sm.version} the timestamp names`);
  if (trustedSnap) {
    // §5.5.5: no targets metadata listed before may disappear or go back.
    for (const [file, old] of Object.entries(trustedSnap.signed.meta)) {
      const cur = snap.signed.meta[file];
      if (!cur) fail(`snapshot no longer lists ${file}: a rollback`);
      if (cur.version < old.version)
        fail(`snapshot lists ${file} version ${cur.version}, older than the trusted ${old.version}`);
    }
  }
  expired(snap, now, `snapshot version ${snap.signed.version}`, noExpiry, grace); // §5.5.6
  await state?.keep('snapshot', snap, snapBytes); // §5.5.7

  // §5.6: top-level targets, checked against the snapshot's hashes/length (§5.6.2).
  const tm = snap.signed.meta['targets.json'];
  if (!tm) fail('snapshot.json does not list targets.json');
  const tBytes = await readListed('targets.json', tm, caps.targets, 'the snapshot');
  const targets = parse('targets', tBytes, 'targets.json');
  threshold(root, 'targets', targets, 'targets.json', noExpiry); // §5.6.3
  if (targets.signed.version !== tm.version)
    // §5.6.4
    fail(`targets version ${targets.signed.version} is not the version ${tm.version} the snapshot names`);
  if (trustedTargets && targets.signed.version < trustedTargets.signed.version)
    fail(`targets version ${targets.signed.version} is older than the trusted ${trustedTargets.signed.version}`);
  expired(targets, now, `targets version ${targets.signed.version}`, noExpiry, grace); // §5.6.5
  await state?.keep('targets', targets, tBytes); // §5.6.6
  await state?.raiseClock(now);

  // §5.6.7: delegated targets roles, read when a search reaches them (or all, for the writer),
  // each checked against the snapshot (length, hashes, version) and its delegator's threshold.
  const delegated = new Map<string, { md: Metadata<Targets>; bytes: Uint8Array }>();
  const loadRole = async (role: string, delegator: Metadata<Targets>): Promise<Metadata<Targets>> => {
    const have = delegated.get(role);
    if (have) return have.md;
    const file = `${role}.json`;
    const meta = snap.signed.meta[file];
    if (!meta) fail(`snapshot.json does not list ${file}, a delegated role`);
    const bytes = await readListed(file, meta, caps.targets, 'the snapshot');
    const md = parse('targets', bytes, file);
    threshold(delegator, role, md, file, noExpiry);
    if (md.signed.version !== meta.version)
      fail(`${file} version ${md.signed.version} is not the version ${meta.version} the snapshot names`);
    expired(md, now, `${role} version ${md.signed.version}`, noExpiry, grace);
    delegated.set(role, { md, bytes });
    return md;
  };
  if (options.loadAllDelegated) {
    const queue: Array<Metadata<Targets>> = [targets];
    for (let seen = 0; queue.length;) {
      const d = queue.shift()!;
      for (const r of Object.values(d.signed.delegations?.roles ?? {})) {
        if (delegated.has(r.name)) continue;
        if (++seen > caps.delegations) fail(`more than ${caps.delegations} delegated roles`);
        queue.push(await loadRole(r.name, d));
      }
    }
  }
  const findTarget = async (path: string): Promise<{ target: TargetFile; role: string } | undefined> => {
    // §5.6.7.1–2: pre-order depth-first, a visited role is not visited again, at most caps.delegations roles.
    const stack: Array<{ role: string; md?: Metadata<Targets>; delegator?: Metadata<Targets> }> = [
      { role: 'targets', md: targets },
    ];
    const visited = new Set<string>();
    while (stack.length) {
      const top = stack.pop()!;
      if (visited.has(top.role)) continue;
      visited.add(top.role);
      if (visited.size > caps.delegations + 1)
        fail(`the search for ${path} visited over ${caps.delegations} delegated roles`);
      const md = top.md ?? (await loadRole(top.role, top.delegator!));
      const hit = md.signed.targets[path];
      if (hit) return { target: hit, role: top.role };
      const children: Array<{ role: string; delegator: Metadata<Targets> }> = [];
      for (const c of rolesForTarget(md.signed.delegations, path)) {
        children.push({ role: c.role, delegator: md });
        if (c.terminating) {
          // §5.6.7.2.1: a terminating delegation ends the search outside it
          stack.length = 0;
          break;
        }
      }
      // pushed in reverse, so the first listed role is searched first
      for (const c of children.reverse()) stack.push(c);
    }
    return undefined;
  };

  return {
    bundle: index.manifest,
    referenceTime: now,
    root,
    rootFiles,
    timestamp: ts,
    snapshot: snap,
    targets,
    bytes: { timestamp: tsBytes, snapshot: snapBytes, targets: tBytes },
    delegated,
    stale,
    findTarget,
  };
}

/** The TUF target path of a release: `oci:<name>:<tag>` (tuf-design.md §7.3, TAP 19 style). */
export function targetPath(name: string, tag: string): string {
  return `oci:${name}:${tag}`;
}
