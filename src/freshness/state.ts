import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SignetError, signetHome, writeFileAtomic } from '../util/index.ts';

/**
 * What this client last accepted for a signed name: refusing anything older stops a mirror or
 * web server from serving an old, validly signed version (rollback). Kept under
 * `$SIGNET_HOME/freshness/`, one small file per (signer, name).
 */
export class FreshnessState {
  constructor(readonly dir: string = join(signetHome(), 'freshness')) {}

  private path(signer: string, name: string): string {
    return join(this.dir, createHash('sha256').update(`${signer}\0${name}`).digest('hex'));
  }

  async last(signer: string, name: string): Promise<{ timestamp: number; digest: string } | undefined> {
    try {
      return JSON.parse(await readFile(this.path(signer, name), 'utf8')) as { timestamp: number; digest: string };
    } catch {
      return undefined;
    }
  }

  /** Accepts (and remembers) a signed timestamp, or refuses one older than the last accepted. */
  async accept(signer: string, name: string, timestamp: number, digest: string): Promise<void> {
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
    await writeFileAtomic(this.path(signer, name), JSON.stringify({ name, timestamp, digest }));
  }
}
