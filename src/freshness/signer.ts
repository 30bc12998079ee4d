import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/index.ts';
import { stateHome } from './home.ts';
import { withLock } from './lock.ts';

export interface SignerMark {
  name: string;
  tag: string;
  seq: number;
  digest: string;
}

/**
 * The signer's side of Layer A: the highest `dev.signet.seq` this host signed per (name, tag),
 * under `$SIGNET_HOME/state/signer`. One of the floors of the next seq (docs/freshness.md).
 */
export class SignerState {
  constructor(readonly dir: string = join(stateHome(), 'signer')) {}

  private path(name: string, tag: string): string {
    return join(this.dir, `${createHash('sha256').update(`${name}\0${tag}`).digest('hex')}.json`);
  }

  async last(name: string, tag: string): Promise<SignerMark | undefined> {
    try {
      const m = JSON.parse(await readFile(this.path(name, tag), 'utf8')) as SignerMark;
      return Number.isSafeInteger(m.seq) ? m : undefined;
    } catch {
      return undefined;
    }
  }

  /** Remembers a signed seq; only ever upward. */
  async record(m: SignerMark): Promise<void> {
    const p = this.path(m.name, m.tag);
    await withLock(p, async () => {
      const prev = await this.last(m.name, m.tag);
      if (!prev || m.seq > prev.seq) await writeFileAtomic(p, `${JSON.stringify(m)}\n`);
    });
  }
}
