import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SignetError, signetHome, writeFileAtomic } from '../util/index.ts';
import { stateHome } from './home.ts';
import { withLock } from './lock.ts';

type Accepted = { timestamp: number; digest: string };

/**
 * What this client last accepted for a signed layout entry (static layouts, Flatpak-style):
 * refusing anything older stops a mirror or web server from serving an old, validly signed
 * version (rollback). Kept under `$SIGNET_HOME/state/layout/`, one small file per (signer, name).
 * Migration: the files of the former `$SIGNET_HOME/freshness/` are still read (the newer state
 * wins); every write goes to the new directory, so the old one is never written again.
 */
export class FreshnessState {
  readonly legacyDir: string | undefined;

  constructor(
    readonly dir: string = join(stateHome(), 'layout'),
    legacyDir?: string
  ) {
    this.legacyDir = legacyDir ?? (dir === join(stateHome(), 'layout') ? join(signetHome(), 'freshness') : undefined);
  }

  private file(signer: string, name: string): string {
    return createHash('sha256').update(`${signer}\0${name}`).digest('hex');
  }

  private static async readJson(path: string): Promise<Accepted | undefined> {
    try {
      return JSON.parse(await readFile(path, 'utf8')) as Accepted;
    } catch {
      return undefined;
    }
  }

  async last(signer: string, name: string): Promise<Accepted | undefined> {
    const current = await FreshnessState.readJson(join(this.dir, this.file(signer, name)));
    const legacy = this.legacyDir
      ? await FreshnessState.readJson(join(this.legacyDir, this.file(signer, name)))
      : undefined;
    if (!current) return legacy;
    if (!legacy) return current;
    return legacy.timestamp > current.timestamp ? legacy : current;
  }

  /** Accepts (and remembers) a signed timestamp, or refuses one older than the last accepted. */
  async accept(signer: string, name: string, timestamp: number, digest: string): Promise<void> {
    const path = join(this.dir, this.file(signer, name));
    await withLock(path, async () => {
      const prev = await this.last(signer, name);
      if (prev && timestamp < prev.timestamp) {
        throw new SignetError(
          'ROLLBACK',
          `${name}: the signed timestamp ${new Date(timestamp * 1000).toISOString()} is older than the one last accepted (${new Date(prev.timestamp * 1000).toISOString()}): refusing a downgrade`
        );
      }
      if (prev && timestamp === prev.timestamp && digest !== prev.digest) {
        throw new SignetError(
          'ROLLBACK',
          `${name}: another digest with the same signed timestamp as the one last accepted`
        );
      }
      if (!prev || timestamp > prev.timestamp) await writeFileAtomic(path, JSON.stringify({ name, timestamp, digest }));
    });
  }
}
