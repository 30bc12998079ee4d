import { isImageIndex, isIndexMediaType, OciError, parseManifest } from '../../oci/index.ts';
import { fetchManifest, RegistryTarget, type ReadableTarget, type RegistryClient } from '../../store/index.ts';
import type { EnforcementSource } from '../enforcement/enforcer.ts';

/** Tags read at most when looking for the index that lists a platform manifest. */
const MAX_TAGS_SCANNED = 64;
/** Child → index links remembered (bounded, oldest dropped first). */
const MAX_LINKS = 50_000;

/**
 * An upstream registry as the enforcer's source. Nothing is stored: every read goes to the
 * upstream, checked against its digest by the store's registry client. The upstream cannot say
 * cheaply when a signature was added, so there is no referrer fingerprint: the enforcer then
 * caches only positive verdicts (denials only for `--deny-ttl`).
 */
export class UpstreamEnforcementSource implements EnforcementSource {
  /** `repo\0child` → indexes seen listing it (filled as indexes pass through, or found by a tag scan). */
  private readonly parents = new Map<string, Set<string>>();

  constructor(
    private readonly client: RegistryClient,
    private readonly registry: string
  ) {}

  target(repo: string): RegistryTarget {
    return new RegistryTarget({ registry: this.registry, repository: repo, client: this.client });
  }

  async manifestInfo(repo: string, digest: string): Promise<{ mediaType: string; size: number } | null> {
    try {
      const d = await this.target(repo).resolve(digest);
      return { mediaType: d.mediaType, size: d.size };
    } catch (err) {
      if (err instanceof OciError && err.kind === 'notfound') return null;
      throw err;
    }
  }

  async referrerFingerprint(): Promise<null> {
    return null;
  }

  /** Remembers which manifests an index lists (called for every index served). */
  noteIndex(repo: string, indexDigest: string, children: string[]): void {
    for (const child of children) {
      const key = `${repo}\u0000${child}`;
      const set = this.parents.get(key) ?? new Set<string>();
      set.add(indexDigest);
      this.parents.delete(key);
      this.parents.set(key, set);
    }
    while (this.parents.size > MAX_LINKS) this.parents.delete(this.parents.keys().next().value!);
  }

  /**
   * Indexes that list `digest`: the ones seen passing through this instance, else (another
   * instance served the index) the repository's tags are scanned, a bounded number of them.
   */
  async indexesListing(repo: string, digest: string): Promise<string[]> {
    const known = this.parents.get(`${repo}\u0000${digest}`);
    if (known?.size) return [...known];
    const target: ReadableTarget = this.target(repo);
    const tags = (await target.tags()).slice(0, MAX_TAGS_SCANNED);
    for (const tag of tags) {
      try {
        const desc = await target.resolve(tag);
        if (!isIndexMediaType(desc.mediaType)) continue;
        const { manifest } = await fetchManifest(target, desc);
        if (isImageIndex(manifest))
          this.noteIndex(
            repo,
            desc.digest,
            manifest.manifests.map((m) => m.digest)
          );
      } catch {
        // a tag that moved or vanished during the scan is simply not a candidate
      }
    }
    return [...(this.parents.get(`${repo}\u0000${digest}`) ?? [])];
  }

  /** Remembers an index's children from its bytes, when it is one. */
  noteManifest(repo: string, digest: string, bytes: Uint8Array, mediaType: string): void {
    try {
      const m = parseManifest(bytes, mediaType);
      if (isImageIndex(m))
        this.noteIndex(
          repo,
          digest,
          m.manifests.map((c) => c.digest)
        );
    } catch {
      // not a manifest we can read: nothing to remember
    }
  }
}
