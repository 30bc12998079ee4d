import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { RevocationCache } from './revocation.ts';
import { writeFileAtomic } from '../util/index.ts';

/** `$SIGNET_HOME/cache/revocation` when SIGNET_HOME is set, else `$XDG_CACHE_HOME/signet/revocation` (or `~/.cache/…`). */
export function defaultRevocationCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.SIGNET_HOME) return join(env.SIGNET_HOME, 'cache', 'revocation');
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'signet', 'revocation');
}

/**
 * CRLs and OCSP responses on disk, each with the time it stops being fresh (its nextUpdate).
 * Only freshness is decided here: every entry is verified again (signature, issuer, times) when
 * it is used, so a tampered cache file can make a check fail or unknown, never pass.
 */
export class FileRevocationCache implements RevocationCache {
  constructor(
    readonly dir: string = defaultRevocationCacheDir(),
    private readonly now: () => Date = () => new Date()
  ) {}

  private path(key: string): string {
    return join(this.dir, createHash('sha256').update(key).digest('hex'));
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    try {
      const meta = JSON.parse(await readFile(`${this.path(key)}.json`, 'utf8')) as { key: string; nextUpdate?: string };
      if (meta.key !== key) return undefined;
      if (!meta.nextUpdate || new Date(meta.nextUpdate) <= this.now()) return undefined;
      return await readFile(`${this.path(key)}.der`);
    } catch {
      return undefined;
    }
  }

  async set(key: string, data: Uint8Array, nextUpdate: Date | undefined): Promise<void> {
    if (!nextUpdate) return; // without a nextUpdate there is no freshness to rely on
    await mkdir(this.dir, { recursive: true });
    const p = this.path(key);
    await writeFileAtomic(`${p}.der`, data);
    await writeFileAtomic(
      `${p}.json`,
      JSON.stringify({ key, nextUpdate: nextUpdate.toISOString(), fetched: this.now().toISOString() })
    );
  }
}

/** A cache in memory (one process; benchmarks and webhooks). */
export class MemoryRevocationCache implements RevocationCache {
  private readonly m = new Map<string, { data: Uint8Array; nextUpdate: Date }>();
  constructor(private readonly now: () => Date = () => new Date()) {}
  async get(key: string): Promise<Uint8Array | undefined> {
    const e = this.m.get(key);
    return e && e.nextUpdate > this.now() ? e.data : undefined;
  }
  async set(key: string, data: Uint8Array, nextUpdate: Date | undefined): Promise<void> {
    if (nextUpdate) this.m.set(key, { data, nextUpdate });
  }
}
