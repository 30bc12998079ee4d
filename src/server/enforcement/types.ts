import type { VerificationReport } from '../../verify/index.ts';

/** What the registry decided about one manifest GET. */
export interface EnforcementVerdict {
  /** Served to everyone who may pull. */
  allowed: boolean;
  /**
   * Why: `verified`; `verified-by-index` (a platform manifest a verified index in the same
   * repository lists); `exempt` (a referrer such as a signature or SBOM, which verifiers need);
   * `unsigned` (no signature at all); `failed` / `inconclusive` (signatures, none acceptable).
   */
  outcome: 'verified' | 'verified-by-index' | 'exempt' | 'unsigned' | 'failed' | 'inconclusive';
  /** For a refusal: the failed check and its reason (`authenticity: … does not chain to …`). */
  message: string;
  /** The trust engine's report of the artifact itself (absent for exempt referrers). */
  report?: VerificationReport;
  /** The digest of the verified index that covers this manifest, for `verified-by-index`. */
  index?: string;
  /** Whether this answer came from the verdict cache. */
  cached: boolean;
}

/**
 * The registry's policy enforcement: one verdict per (repository, requested reference, digest),
 * computed by the trust engine and cached until a referrer changes or something it relied on
 * expires. The web view and the manifest routes share it.
 */
export interface Enforcer {
  /** The registry name policy scopes match (`--public-name`, or the upstream's name). */
  readonly registryName: string;
  /**
   * The verdict on manifest `digest` (media type and size as stored) of `repo`, requested as
   * `reference` (a tag, or the digest itself).
   */
  verdict(
    repo: string,
    reference: string,
    manifest: { digest: string; mediaType: string; size: number }
  ): Promise<EnforcementVerdict>;
  /** Forget every verdict about `digest` in `repo`: a referrer of it was pushed or deleted here. */
  invalidate(repo: string, digest: string): void;
  /** Forget every verdict: a delete may have removed signatures of anything. */
  invalidateAll(): void;
  /** Counters for /metrics. */
  stats(): EnforcerStats;
}

/** Counters for /metrics. */
export interface EnforcerStats {
  verdicts: Record<EnforcementVerdict['outcome'], number>;
  cacheHits: number;
  cacheMisses: number;
  cacheEntries: number;
}
