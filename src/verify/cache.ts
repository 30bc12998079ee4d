/**
 * The verdict cache: shared by the registry's policy enforcement (src/server/enforcement) and the
 * library's `createVerifier`. An entry is keyed by everything the verdict depends on — repository,
 * requested tag or digest, resolved digest, the set of signatures found beside it (a
 * fingerprint), and the policy generation — so a signature pushed or deleted makes a new key at
 * once. It never outlives the earliest expiry the verdict relied on (signature expiry,
 * certificate notAfter, revocation nextUpdate) nor the cache's own ceiling. Bounded (LRU).
 */
export interface VerdictKey {
  repo: string;
  reference: string;
  digest: string;
  /** What names the signatures of `digest` (referrer digests, signature tags), or '' when unknown. */
  referrers: string;
  /** Changes when the policy (or, later, the freshness state) changes. */
  policy: string;
}

interface Entry<V> {
  value: V;
  expiresAt: number;
  subject: string;
  /** `repo\0reference\0digest`: what a moved tag's other verdicts are found by. */
  named: string;
}

export class VerdictCache<V> {
  private readonly entries = new Map<string, Entry<V>>();
  hits = 0;
  misses = 0;

  constructor(private readonly maxEntries = 10_000) {
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 1)
      throw new RangeError(`a verdict cache holds at least one entry, not ${String(maxEntries)}`);
  }

  private static keyOf(k: VerdictKey): string {
    return `${k.repo}\u0000${k.reference}\u0000${k.digest}\u0000${k.referrers}\u0000${k.policy}`;
  }

  get(k: VerdictKey, now = Date.now()): V | undefined {
    const key = VerdictCache.keyOf(k);
    const e = this.entries.get(key);
    if (!e || e.expiresAt <= now) {
      if (e) this.entries.delete(key);
      this.misses++;
      return undefined;
    }
    // Most recently used last: the first key is the one to evict.
    this.entries.delete(key);
    this.entries.set(key, e);
    this.hits++;
    return e.value;
  }

  set(k: VerdictKey, value: V, expiresAt: number, now = Date.now()): void {
    if (!(expiresAt > now)) return;
    const key = VerdictCache.keyOf(k);
    this.entries.delete(key);
    this.entries.set(key, {
      value,
      expiresAt,
      subject: `${k.repo}\u0000${k.digest}`,
      named: `${k.repo}\u0000${k.reference}\u0000${k.digest}`,
    });
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }

  /** Drops every verdict about `digest` in `repo` (a referrer of it was pushed or deleted). */
  dropSubject(repo: string, digest: string): void {
    const subject = `${repo}\u0000${digest}`;
    for (const [key, e] of this.entries) if (e.subject === subject) this.entries.delete(key);
  }

  /**
   * Drops the verdicts of `reference` (a tag) for every digest but `digest`: once the tag was
   * judged at a new digest, its old verdicts must be judged again (a tag moved back to an older
   * release meets the rollback check, not a verdict cached before the newer one was seen).
   */
  dropReferenceExcept(repo: string, reference: string, digest: string): void {
    const prefix = `${repo}\u0000${reference}\u0000`;
    const keep = `${prefix}${digest}`;
    for (const [key, e] of this.entries) if (e.named.startsWith(prefix) && e.named !== keep) this.entries.delete(key);
  }

  /** Drops everything (the policy was reloaded). */
  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
