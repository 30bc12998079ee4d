import { isIndexMediaType, type RegistryReference } from '../../oci/index.ts';
import { fetchManifest, type ReadableTarget } from '../../store/index.ts';
import { SignetError, type Logger, silentLogger } from '../../util/index.ts';
import {
  failureSummary,
  loadRequirements,
  revocationSetup,
  verifyArtifact,
  type Requirement,
  type RequirementSources,
  type VerificationReport,
} from '../../verify/index.ts';
import { classifyManifest, MAX_INDEX_CHILDREN } from './classify.ts';
import type { EnforcementVerdict, Enforcer, EnforcerStats } from './types.ts';
import { VerdictCache, type VerdictKey } from './verdict-cache.ts';

type ManifestRef = { digest: string; mediaType: string; size: number };

/** Where the enforcer reads artifacts: the server's own store, or an upstream registry. */
export interface EnforcementSource {
  /** One repository as a read-only target of the trust engine (every byte checked against its digest). */
  target(repo: string): ReadableTarget;
  /** A manifest's media type and size in `repo`, or null when it is not there. */
  manifestInfo(repo: string, digest: string): Promise<{ mediaType: string; size: number } | null>;
  /**
   * A string that changes whenever a signature of `digest` is added or removed (referrer links,
   * signature tags); null when the source cannot tell cheaply (an upstream registry).
   */
  referrerFingerprint(repo: string, digest: string): Promise<string | null>;
  /** Digests of the indexes in `repo` known to list `digest`. */
  indexesListing(repo: string, digest: string): Promise<string[]>;
  /** Told when a signature of `digest` was pushed or deleted through this server. */
  changed?(repo: string, digest: string): void;
  /** Told when anything may have changed (a delete cascaded through referrers). */
  changedAll?(): void;
}

export interface EnforcerOptions {
  /** The trust engine's requirements (see `loadRequirements`). */
  requirements: Requirement[];
  /** The registry name policy scopes match: `--public-name`, or the upstream's name. */
  registryName: string;
  source: EnforcementSource;
  revocationOptions?: Awaited<ReturnType<typeof revocationSetup>>;
  /** Longest a verdict is cached (default 10 min); shorter when something it relied on expires sooner. */
  maxTtlMs?: number;
  /**
   * How long a denial is cached when the source cannot tell that a signature was added (an
   * upstream): default 0, so a signature pushed straight to the upstream is seen on the next pull.
   */
  denyTtlMs?: number;
  maxEntries?: number;
  logger?: Logger;
}

type OwnVerdict = Omit<EnforcementVerdict, 'cached'>;

/**
 * Policy enforcement over the trust engine. A manifest's own verdict is computed once per key
 * (concurrent requests for the same key wait for the one computation) and cached; a platform
 * manifest that fails on its own is served when a verified index of the same repository lists it.
 */
export class PolicyEnforcer implements Enforcer {
  readonly registryName: string;
  private readonly cache: VerdictCache<OwnVerdict>;
  private readonly inflight = new Map<string, Promise<{ v: OwnVerdict; expiresAt: number }>>();
  private readonly counts: EnforcerStats['verdicts'] = {
    verified: 0,
    'verified-by-index': 0,
    exempt: 0,
    unsigned: 0,
    failed: 0,
    inconclusive: 0,
  };
  private readonly maxTtlMs: number;
  private readonly denyTtlMs: number;
  private readonly logger: Logger;
  private policyGeneration = 1;

  constructor(private readonly options: EnforcerOptions) {
    if (!options.requirements.length)
      throw new SignetError('USAGE', 'enforcement needs a policy: a verification never passes by default');
    this.registryName = options.registryName;
    this.cache = new VerdictCache(options.maxEntries ?? 10_000);
    this.maxTtlMs = options.maxTtlMs ?? 10 * 60_000;
    this.denyTtlMs = options.denyTtlMs ?? 0;
    this.logger = options.logger ?? silentLogger;
  }

  stats(): EnforcerStats {
    return {
      verdicts: { ...this.counts },
      cacheHits: this.cache.hits,
      cacheMisses: this.cache.misses,
      cacheEntries: this.cache.size,
    };
  }

  /** Forget every verdict about `digest` (a referrer of it was pushed or deleted through this server). */
  invalidate(repo: string, digest: string): void {
    this.options.source.changed?.(repo, digest);
    this.cache.dropSubject(repo, digest);
  }

  /** Forget every verdict (a delete may have removed signatures of anything in the repository). */
  invalidateAll(): void {
    this.options.source.changedAll?.();
    this.cache.clear();
  }

  async verdict(repo: string, reference: string, manifest: ManifestRef): Promise<EnforcementVerdict> {
    const own = await this.ownVerdict(repo, reference, manifest);
    let result: EnforcementVerdict = { ...own.v, cached: own.cached };
    if (!own.v.allowed && own.v.report && !isIndexMediaType(manifest.mediaType)) {
      // A multi-arch pull asks for the platform manifest by digest after the (verified) index.
      for (const idx of (await this.options.source.indexesListing(repo, manifest.digest)).slice(0, 16)) {
        const info = await this.options.source.manifestInfo(repo, idx);
        if (!info) continue;
        const iv = await this.ownVerdict(repo, idx, { digest: idx, ...info });
        if (iv.v.allowed && iv.v.outcome === 'verified') {
          result = {
            allowed: true,
            outcome: 'verified-by-index',
            message: `listed by the verified index ${idx}`,
            index: idx,
            ...(own.v.report ? { report: own.v.report } : {}),
            cached: own.cached && iv.cached,
          };
          break;
        }
      }
    }
    this.counts[result.outcome]++;
    return result;
  }

  private async ownVerdict(
    repo: string,
    reference: string,
    manifest: ManifestRef
  ): Promise<{ v: OwnVerdict; cached: boolean }> {
    const fingerprint = await this.options.source.referrerFingerprint(repo, manifest.digest);
    const key: VerdictKey = {
      repo,
      reference,
      digest: manifest.digest,
      referrers: fingerprint ?? '',
      policy: String(this.policyGeneration),
    };
    const hit = this.cache.get(key);
    if (hit) return { v: hit, cached: true };
    const k = JSON.stringify(key);
    let running = this.inflight.get(k);
    if (!running) {
      running = this.compute(repo, reference, manifest, fingerprint !== null).finally(() => this.inflight.delete(k));
      this.inflight.set(k, running);
    }
    const { v, expiresAt } = await running;
    if (!reference.includes(':')) this.cache.dropReferenceExcept(repo, reference, manifest.digest);
    this.cache.set(key, v, expiresAt);
    return { v, cached: false };
  }

  private async compute(
    repo: string,
    reference: string,
    manifest: ManifestRef,
    tracked: boolean
  ): Promise<{ v: OwnVerdict; expiresAt: number }> {
    const now = Date.now();
    const ceiling = now + this.maxTtlMs;
    const target = this.options.source.target(repo);
    try {
      if (await this.isExempt(repo, target, manifest)) {
        return {
          v: { allowed: true, outcome: 'exempt', message: 'a signature, SBOM or attestation of an artifact here' },
          expiresAt: ceiling,
        };
      }
      const parsed: RegistryReference = {
        kind: 'registry',
        registry: this.registryName,
        repository: repo,
        ...(reference.includes(':') ? { digest: reference } : { tag: reference }),
      };
      const report = await verifyArtifact(
        { subject: { target, parsed, descriptor: { ...manifest } } },
        this.options.requirements,
        { ...(this.options.revocationOptions ? { revocationOptions: this.options.revocationOptions } : {}) }
      );
      return this.judged(report, now, ceiling, tracked);
    } catch (err) {
      // Trouble reading the store or reaching a responder: refuse now, decide again next time.
      const message = `inconclusive: ${(err as Error).message}`;
      this.logger.warn({ repo, digest: manifest.digest, err: (err as Error).message }, 'verification inconclusive');
      return { v: { allowed: false, outcome: 'inconclusive', message }, expiresAt: 0 };
    } finally {
      await target.close();
    }
  }

  private judged(
    report: VerificationReport,
    now: number,
    ceiling: number,
    tracked: boolean
  ): { v: OwnVerdict; expiresAt: number } {
    const until = report.validUntil ? Date.parse(report.validUntil) : Infinity;
    if (report.verdict === 'verified')
      return {
        v: { allowed: true, outcome: 'verified', message: 'verified', report },
        expiresAt: Math.min(ceiling, until),
      };
    const outcome =
      report.verdict === 'inconclusive' ? 'inconclusive' : report.signatures.length ? 'failed' : 'unsigned';
    const v: OwnVerdict = { allowed: false, outcome, message: failureSummary(report) ?? 'not verified', report };
    // A denial is kept only where a new signature changes the key (our own store), or as configured.
    const denyUntil = outcome === 'inconclusive' ? 0 : tracked ? ceiling : now + this.denyTtlMs;
    return { v, expiresAt: Math.min(denyUntil, until) };
  }

  /** Signatures, SBOMs, attestations and referrer lists (the tag schema) are readable to all. */
  private async isExempt(repo: string, target: ReadableTarget, manifest: ManifestRef): Promise<boolean> {
    const { manifest: m } = await fetchManifest(target, manifest);
    const subjectExists = m.subject ? (await this.options.source.manifestInfo(repo, m.subject.digest)) !== null : false;
    const cls = classifyManifest(m, subjectExists);
    if (cls.kind !== 'index') return cls.kind === 'referrer';
    if (cls.children.length > MAX_INDEX_CHILDREN) return false;
    for (const child of cls.children) {
      const info = await this.options.source.manifestInfo(repo, child);
      if (!info || isIndexMediaType(info.mediaType)) return false;
      const { manifest: cm } = await fetchManifest(target, { digest: child, ...info });
      const sub = cm.subject ? (await this.options.source.manifestInfo(repo, cm.subject.digest)) !== null : false;
      if (classifyManifest(cm, sub).kind !== 'referrer') return false;
    }
    return true;
  }
}

/** The policy files of `signet serve --policy/--trust-store/--containers-policy`. */
export interface EnforcementPolicy {
  trustPolicy?: string;
  trustStore?: string;
  containersPolicy?: string;
}

/**
 * Reads the policy files as `signet verify` does (without `$SIGNET_HOME` defaults: a server
 * enforces only what it is told). `startRegistry({ policy })` calls this; so does pull-through.
 */
export async function loadEnforcementPolicy(
  policy: EnforcementPolicy
): Promise<Pick<EnforcerOptions, 'requirements' | 'revocationOptions'>> {
  const sources: RequirementSources = { defaults: false };
  if (policy.trustPolicy) sources.trustPolicy = policy.trustPolicy;
  if (policy.trustStore) sources.trustStore = policy.trustStore;
  if (policy.containersPolicy) sources.containersPolicy = policy.containersPolicy;
  if (!policy.trustPolicy && !policy.containersPolicy)
    throw new SignetError('USAGE', 'enforcement needs --policy (a trust policy) or --containers-policy');
  const { requirements } = await loadRequirements(sources);
  return { requirements, revocationOptions: await revocationSetup() };
}

/** Loads the policy and builds the enforcer over a source. */
export async function createEnforcer(
  policy: EnforcementPolicy,
  options: Omit<EnforcerOptions, 'requirements' | 'revocationOptions'>
): Promise<PolicyEnforcer> {
  return new PolicyEnforcer({ ...options, ...(await loadEnforcementPolicy(policy)) });
}
