import type { ReadableTarget } from '../../store/index.ts';
import type { RegistryStorage } from '../storage.ts';
import type { EnforcementSource } from './enforcer.ts';
import { StorageTarget } from './storage-target.ts';

/** The server's own store as the enforcer's source: referrer changes are seen exactly. */
export class LocalEnforcementSource implements EnforcementSource {
  private epoch = 0;
  private readonly generations = new Map<string, number>();

  constructor(
    private readonly storage: RegistryStorage,
    private readonly registryName: string
  ) {}

  target(repo: string): ReadableTarget {
    return new StorageTarget(this.storage, repo, this.registryName);
  }

  manifestInfo(repo: string, digest: string): Promise<{ mediaType: string; size: number } | null> {
    return this.storage.manifestInfo(repo, digest);
  }

  /**
   * Every write that can add or remove a signature goes through this server's routes, which
   * report it (`changed`, `changedAll`): the fingerprint is a generation counter, so a cached
   * GET costs no filesystem access at all. (A second writer on the same root is not supported;
   * the verdict TTL bounds what it could leave stale.)
   */
  async referrerFingerprint(repo: string, digest: string): Promise<string> {
    return `${this.epoch}.${this.generations.get(`${repo}\u0000${digest}`) ?? 0}`;
  }

  changed(repo: string, digest: string): void {
    const key = `${repo}\u0000${digest}`;
    this.generations.set(key, (this.generations.get(key) ?? 0) + 1);
    if (this.generations.size > 100_000) this.changedAll();
  }

  changedAll(): void {
    this.epoch++;
    this.generations.clear();
  }

  indexesListing(repo: string, digest: string): Promise<string[]> {
    return this.storage.indexesListing(repo, digest);
  }
}
