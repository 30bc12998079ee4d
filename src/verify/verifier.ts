import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { isNotFound, parseReference, type Descriptor, type RegistryReference } from '../oci/index.ts';
import { cosignAttestationTag, cosignSignatureTag, lookasideFor, type RegistriesD } from '../signature/index.ts';
import { openTarget, RegistryClientPool, type ReadableTarget } from '../store/index.ts';
import { TrustStore } from '../trust/index.ts';
import { MAX_CONFIG_FILE_SIZE, readFileBounded, signetHome } from '../util/index.ts';
import { DEFAULT_CONCURRENCY, mapConcurrent, revocationSetup, type VerifyArtifactsOptions } from './batch.ts';
import { VerdictCache, type VerdictKey } from './cache.ts';
import type { Candidate } from './discover.ts';
import { familiesRead, verifyArtifact, type VerifyArtifactOptions } from './engine.ts';
import { loadRequirements, type RequirementSources } from './load.ts';
import type { VerificationReport } from './report.ts';
import type { Requirement } from './requirements/types.ts';

export interface VerifierOptions extends Omit<VerifyArtifactsOptions, 'now' | 'concurrency'> {
  /** Verdicts kept at most (least recently used first out). Default 1000. */
  cacheSize?: number;
  /** Longest a verdict is reused, in milliseconds (default 10 minutes); shorter when the report's `validUntil` is sooner. */
  ttl?: number;
  /** The clock verdicts expire by and signatures are verified at (default: the system clock). */
  clock?: () => Date;
}

export interface VerifierStats {
  /** Calls answered from the cache. */
  hits: number;
  /** Verifications run by the trust engine (concurrent calls for one key share one). */
  misses: number;
  entries: number;
  /** How many times the policy files changed and were read again. */
  policyReloads: number;
}

/** A long-lived verifier (an admission webhook): the verdicts of `verify` are cached, never stale. */
export interface Verifier {
  /**
   * The report on one reference, as `verify(ref)` makes it. A verified report is reused while
   * nothing it depends on changed: the reference still resolves to the same digest, the
   * signatures beside it (referrers and the cosign `.sig` tag) are the same, the policy files and
   * the trust store are unchanged, and its `validUntil` (signature expiry, certificate notAfter,
   * revocation nextUpdate) and the `ttl` have not passed. Those facts are observed after the call
   * began (concurrent calls share one observation: one round trip for many). Failed and
   * inconclusive reports are never reused. The report is frozen: do not modify it.
   */
  verify(ref: string): Promise<VerificationReport>;
  /** `verify` over many references, `concurrency` at a time (default 8), reports in order. */
  verifyAll(refs: string[], concurrency?: number): Promise<VerificationReport[]>;
  stats(): VerifierStats;
  /** Forgets every cached verdict. */
  clear(): void;
  /** Closes the registry connections. */
  close(): Promise<void>;
}

/** Files changed this recently may change again without their stat changing: compare their bytes too. */
const RACY_MS = 2000;

/**
 * A stamp of the files and directories a verification's requirements were read from: stat facts
 * of each (following links), directories listed to `depth`, and the SHA-256 of every file changed
 * within RACY_MS of the stamp, so that a second change inside the file system's timestamp
 * granularity cannot go unseen.
 */
interface Stamp {
  stat: string;
  /** path → SHA-256 of the files that were racy when stamped. */
  racy: Map<string, string>;
}

function hashOf(path: string): string {
  try {
    return createHash('sha256').update(readFileSync(path)).digest('hex');
  } catch {
    return 'unreadable';
  }
}

/**
 * The stamp of `paths` now, and whether it differs from `previous`: the stat facts changed, or a
 * file that was racy in `previous` now has other bytes. A file leaving the racy window is no change
 * (comparing whole strings, the hash dropping out of the stamp read as one and cleared the cache).
 */
function restamp(paths: Array<[path: string, depth: number]>, previous?: Stamp): { stamp: Stamp; changed: boolean } {
  const now = Date.now();
  const out: string[] = [];
  const racy = new Map<string, string>();
  const walk = (p: string, depth: number): void => {
    const st = statSync(p, { throwIfNoEntry: false });
    if (!st) return void out.push(`${p}\u0000-`);
    if (st.isDirectory()) {
      out.push(`${p}\u0000d`);
      if (depth > 0) for (const e of readdirSync(p).sort()) walk(join(p, e), depth - 1);
      return;
    }
    out.push(`${p}\u0000${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`);
    if (st.isFile() && Math.max(st.mtimeMs, st.ctimeMs) >= now - RACY_MS) racy.set(p, hashOf(p));
  };
  for (const [p, depth] of paths) walk(p, depth);
  const stamp = { stat: out.join('\n'), racy };
  if (!previous) return { stamp, changed: true };
  let changed = stamp.stat !== previous.stat;
  for (const [p, hash] of previous.racy) {
    if (changed) break;
    changed = (racy.get(p) ?? hashOf(p)) !== hash;
  }
  return { stamp, changed };
}

/** Key files a containers policy names (`keyPath`, `keyPaths`), resolved as its loader resolves them. */
async function containersKeyFiles(policyFile: string): Promise<string[]> {
  let doc: unknown;
  try {
    doc = JSON.parse((await readFileBounded(policyFile, MAX_CONFIG_FILE_SIZE)).toString('utf8'));
  } catch {
    return [];
  }
  const out: string[] = [];
  const base = dirname(policyFile);
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) return v.forEach(visit);
    if (!v || typeof v !== 'object') return;
    for (const [k, x] of Object.entries(v)) {
      if (k === 'keyPath' && typeof x === 'string') out.push(isAbsolute(x) ? x : join(base, x));
      else if (k === 'keyPaths' && Array.isArray(x))
        for (const p of x)
          if (typeof p === 'string') out.push(isAbsolute(p) ? p : join(base, p));
          else visit(x);
    }
  };
  visit(doc);
  return out;
}

/** Every file and directory the requirements of `sources` are read from (named, or the `$SIGNET_HOME` defaults). */
async function watchedPaths(sources: RequirementSources): Promise<Array<[string, number]>> {
  const out: Array<[string, number]> = [];
  const home = signetHome();
  const defaults = sources.defaults ?? true;
  const file = (x: unknown): void => {
    if (typeof x === 'string') out.push([x, 0]);
  };
  if (typeof sources.trustPolicy === 'string') file(sources.trustPolicy);
  else if (sources.trustPolicy === undefined && defaults)
    out.push([join(home, 'trustpolicy.oci.json'), 0], [join(home, 'trustpolicy.json'), 0]);
  const store =
    sources.trustStore instanceof TrustStore
      ? sources.trustStore.root
      : (sources.trustStore ?? join(home, 'truststore'));
  // <root>/x509/<type>/<name>/<file>, or <root>/truststore/x509/...
  out.push([store, 5]);
  const containers =
    typeof sources.containersPolicy === 'string'
      ? sources.containersPolicy
      : sources.containersPolicy === undefined && defaults
        ? join(home, 'policy.json')
        : undefined;
  if (containers) {
    out.push([containers, 0]);
    for (const k of await containersKeyFiles(containers)) out.push([k, 0]);
  }
  if (typeof sources.registriesD === 'string') out.push([sources.registriesD, 1]);
  for (const k of sources.cosignKeys ?? []) file(k);
  for (const k of sources.sigstore?.keys ?? []) file(k);
  file(sources.sigstore?.trustedRoot);
  for (const k of sources.layoutKeys ?? []) file(k);
  return out;
}

/** Objects passed in place of files: their JSON is part of the policy fingerprint. */
function inlineFingerprint(sources: RequirementSources): string {
  const inline = {
    trustPolicy: typeof sources.trustPolicy === 'object' ? sources.trustPolicy : undefined,
    containersPolicy: typeof sources.containersPolicy === 'object' ? sources.containersPolicy : undefined,
    registriesD: typeof sources.registriesD === 'object' ? sources.registriesD : undefined,
  };
  return JSON.stringify(inline, (_k, v: unknown) => (v instanceof Map ? [...v] : v));
}

/**
 * At most one observation per key in flight; a call arriving while one runs waits for the next
 * (which starts when the running one settles), because the running one may have looked before the
 * call began. Many concurrent calls share one observation: a webhook answering a burst of
 * admissions for one image makes one round trip per burst, not per call.
 */
class Rounds<V> {
  private readonly slots = new Map<string, { queued?: { promise: Promise<V>; resolve: (v: Promise<V>) => void } }>();

  run(key: string, fn: () => Promise<V>): Promise<V> {
    const slot = this.slots.get(key);
    if (!slot) return this.start(key, {}, fn);
    if (!slot.queued) {
      let resolve!: (v: Promise<V>) => void;
      const promise = new Promise<V>((r) => (resolve = r));
      slot.queued = { promise, resolve };
    }
    return slot.queued.promise;
  }

  private start(
    key: string,
    slot: { queued?: { promise: Promise<V>; resolve: (v: Promise<V>) => void } },
    fn: () => Promise<V>
  ): Promise<V> {
    this.slots.set(key, slot);
    const p = fn();
    const settled = (): void => {
      const q = slot.queued;
      slot.queued = undefined;
      if (q) q.resolve(this.start(key, slot, fn));
      else this.slots.delete(key);
    };
    p.then(settled, settled);
    return p;
  }
}

interface PolicyState {
  stamp: Stamp;
  inline: string;
  generation: number;
  requirements: Requirement[];
  /** The signature families the requirements read (what discovery looks at). */
  families: ReadonlySet<Candidate['family']>;
  registriesD?: RegistriesD;
}

interface Observation {
  policy: PolicyState;
  /** Null: this reference is not cached (a layout, a lookaside, a covering index): verify it as is. */
  key: VerdictKey | null;
  parsed?: RegistryReference;
  /** The manifest's descriptor, when resolving the tag told it. */
  descriptor?: Descriptor;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/**
 * A verifier for long-lived processes (an admission webhook): the requirements are loaded once
 * (and again whenever a policy file or the trust store changes), registry connections are kept
 * alive, and verified reports are cached in a bounded LRU keyed by (repository, reference,
 * resolved digest, the signatures beside it, the policy) and expired by the report's
 * `validUntil`. See {@link Verifier.verify} for what makes a cached verdict current.
 *
 * @example
 * const verifier = await createVerifier({
 *   sources: { trustPolicy: '/etc/signet/trustpolicy.json', trustStore: '/etc/signet/truststore' },
 *   cacheSize: 10_000,
 *   ttl: 5 * 60_000,
 * });
 * const report = await verifier.verify('registry.example.com/app@sha256:…');
 * if (report.verdict !== 'verified') deny(failureSummary(report));
 * await verifier.close(); // at shutdown
 */
export async function createVerifier(options: VerifierOptions = {}): Promise<Verifier> {
  const { sources = {}, revocationData, cacheSize = 1000, ttl = 10 * 60_000, clock, ...rest } = options;
  if (!(ttl >= 0)) throw new RangeError('ttl must be a number of milliseconds');
  const cache = new VerdictCache<VerificationReport>(cacheSize);
  const pool = options.open?.pool ?? new RegistryClientPool();
  const ownPool = !options.open?.pool;
  const open = { ...options.open, pool };
  const revocationOptions = await revocationSetup(revocationData);
  const now = (): Date => (clock ? clock() : new Date());
  const paths = await watchedPaths(sources);
  let policyReloads = 0;
  let hits = 0;
  let misses = 0;
  const load = async (stamp: Stamp, inline: string, generation: number): Promise<PolicyState> => {
    const { requirements, registriesD } = await loadRequirements(sources);
    const families = familiesRead(requirements);
    return { stamp, inline, generation, requirements, families, ...(registriesD ? { registriesD } : {}) };
  };
  let policy = await load(restamp(paths).stamp, inlineFingerprint(sources), 0);
  const policyRounds = new Rounds<PolicyState>();
  /** The policy as it is now: the files' stamp read after the caller began, reloaded when it moved. */
  const currentPolicy = (): Promise<PolicyState> =>
    policyRounds.run('policy', async () => {
      const { stamp, changed } = restamp(paths, policy.stamp);
      const inline = inlineFingerprint(sources);
      if (changed || inline !== policy.inline) {
        policy = await load(stamp, inline, policy.generation + 1);
        policyReloads++;
        cache.clear();
      } else policy.stamp = stamp; // the same content: stop hashing files no longer racy
      return policy;
    });
  const rounds = new Rounds<Observation>();
  const inflight = new Map<string, Promise<VerificationReport>>();

  const observe = async (ref: string): Promise<Observation> => {
    const p = await currentPolicy();
    const parsed = parseReference(ref);
    // Not cached: a layout (local files, read as they are), an artifact whose signatures may live
    // in a lookaside, one judged through a covering index, or with a scope (the engine refuses
    // that for a registry reference, and should say so).
    if (
      parsed.kind !== 'registry' ||
      rest.coveringIndex ||
      rest.scope !== undefined ||
      (p.registriesD && lookasideFor(p.registriesD, parsed.registry, parsed.repository))
    )
      return { policy: p, key: null };
    const { target } = await openTarget(parsed, open);
    try {
      let descriptor: Descriptor | undefined;
      if (!parsed.digest) {
        if (!parsed.tag) return { policy: p, key: null }; // the engine names what is missing
        const d = await target.resolve(parsed.tag);
        descriptor = { mediaType: d.mediaType, digest: d.digest, size: d.size };
      }
      const digest = parsed.digest ?? descriptor!.digest;
      const referrers = await fingerprint(target, digest, p.families);
      return {
        policy: p,
        parsed,
        ...(descriptor ? { descriptor } : {}),
        key: {
          repo: `${parsed.registry}/${parsed.repository}`,
          reference: parsed.digest ?? parsed.tag!,
          digest,
          referrers,
          policy: String(p.generation),
        },
      };
    } finally {
      await target.close();
    }
  };

  const engineOptions = (p: PolicyState): VerifyArtifactOptions => ({
    ...rest,
    open,
    revocationOptions,
    now: now(),
    ...(revocationData?.offline ? { offline: true } : {}),
    ...(p.registriesD ? { registriesD: p.registriesD } : {}),
  });

  const compute = async (o: Observation): Promise<VerificationReport> => {
    const key = o.key!;
    const { target } = await openTarget(o.parsed!, open);
    try {
      const descriptor = o.descriptor ?? (await target.resolve(key.digest));
      const started = now();
      const report = await verifyArtifact(
        {
          subject: {
            target,
            parsed: o.parsed!,
            descriptor: { mediaType: descriptor.mediaType, digest: key.digest, size: descriptor.size },
          },
        },
        o.policy.requirements,
        { ...engineOptions(o.policy), now: started }
      );
      // Only a verified report is reused, and not one that judged a tag's release against the
      // rollback marks (those move with every newer release accepted anywhere).
      const rollback = report.requirements.some((r) => r.checks.some((c) => c.name === 'rollback'));
      if (report.verdict === 'verified' && !rollback) {
        const until = report.validUntil ? Date.parse(report.validUntil) : Infinity;
        cache.set(key, deepFreeze(report), Math.min(started.getTime() + ttl, until), now().getTime());
      }
      if (!key.reference.includes(':')) cache.dropReferenceExcept(key.repo, key.reference, key.digest);
      return report;
    } finally {
      await target.close();
    }
  };

  const verify = async (ref: string): Promise<VerificationReport> => {
    if (typeof ref !== 'string') throw new TypeError('verify takes a reference string');
    const o = await rounds.run(ref, () => observe(ref));
    if (!o.key) {
      misses++;
      return verifyArtifact(ref, o.policy.requirements, engineOptions(o.policy));
    }
    const hit = cache.get(o.key, now().getTime());
    if (hit) {
      hits++;
      return hit;
    }
    const k = JSON.stringify(o.key);
    let running = inflight.get(k);
    if (!running) {
      misses++;
      running = compute(o).finally(() => inflight.delete(k));
      inflight.set(k, running);
    }
    return running;
  };

  return {
    verify,
    verifyAll: (refs, concurrency = DEFAULT_CONCURRENCY) => mapConcurrent(refs, concurrency, (r) => verify(r)),
    stats: () => ({ hits, misses, entries: cache.size, policyReloads }),
    clear: () => cache.clear(),
    close: async () => {
      if (ownPool) await pool.close();
    },
  };
}

/**
 * What names the signatures `discoverSignatures` would find for `digest` in a registry: the
 * referrers (digest and artifact type, as listed) and, when a requirement reads their family,
 * the digests of cosign's `.sig` and `.att` tags. Content
 * addressed, so the same fingerprint means the same signature bytes.
 */
async function fingerprint(
  target: ReadableTarget,
  digest: string,
  families: ReadonlySet<Candidate['family']>
): Promise<string> {
  const subject = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest, size: 0 };
  const tag = (name: string, read: boolean): Promise<string> =>
    read
      ? target.resolve(name).then(
          (d) => d.digest,
          (err: unknown) => {
            if (isNotFound(err)) return '-';
            throw err;
          }
        )
      : Promise.resolve('unread');
  const [referrers, sig, att] = await Promise.all([
    target.referrers(subject),
    tag(cosignSignatureTag(digest), families.has('cosign')),
    tag(cosignAttestationTag(digest), families.has('sigstore')),
  ]);
  const listed = referrers.map((r) => `${r.digest} ${r.artifactType ?? ''}`).sort();
  return `${listed.join(',')};sig=${sig};att=${att}`;
}
