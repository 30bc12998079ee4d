import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SignetError, writeFileAtomic } from '../util/index.ts';
import { stateHome } from './home.ts';
import { withLock } from './lock.ts';

/** What this client last accepted for one tag of one logical name under one policy statement. */
export interface TagMark {
  /** The policy scope: the trust policy statement's name. */
  scope: string;
  name: string;
  tag: string;
  /** The highest `dev.signet.seq` accepted. */
  seq: number;
  /** The digest accepted with it. */
  digest: string;
  issued?: string;
  /** When this client recorded it. */
  recorded: string;
}

export interface TagJudgement {
  ok: boolean;
  /** Whether the mark was (or, before the commit, would be) raised. */
  raises: boolean;
  reason: string;
}

/**
 * The Layer A high-water marks (docs/freshness.md): one file per (policy scope, name, tag) under
 * `$SIGNET_HOME/state/tags`, only ever raised, written atomically under a lock after every other
 * check passed. A tag whose verified seq is lower than the mark is a rollback.
 */
export class TagState {
  constructor(readonly dir: string = join(stateHome(), 'tags')) {}

  path(scope: string, name: string, tag: string): string {
    return join(this.dir, `${createHash('sha256').update(`${scope}\0${name}\0${tag}`).digest('hex')}.json`);
  }

  /** The mark, or undefined when this client never accepted the tag; an unreadable mark is an error, never "no state". */
  async read(scope: string, name: string, tag: string): Promise<TagMark | undefined> {
    const p = this.path(scope, name, tag);
    let text: string;
    try {
      text = await readFile(p, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new SignetError('IO', `cannot read the rollback state ${p}: ${(err as Error).message}`);
    }
    try {
      const m = JSON.parse(text) as TagMark;
      if (!Number.isSafeInteger(m.seq) || typeof m.digest !== 'string') throw new Error('no seq or digest');
      return m;
    } catch (err) {
      throw new SignetError(
        'IO',
        `the rollback state ${p} is damaged (${(err as Error).message}): refusing to treat it as no state`
      );
    }
  }

  /** Compares a verified (seq, digest) with the mark: newer, or the very same release, passes. */
  static judge(mark: TagMark | undefined, seq: number, digest: string): TagJudgement {
    if (!mark) return { ok: true, raises: true, reason: `seq ${seq}: first release of this tag seen here` };
    if (seq > mark.seq)
      return { ok: true, raises: true, reason: `seq ${seq} is newer than the last accepted seq ${mark.seq}` };
    if (seq === mark.seq && digest === mark.digest)
      return { ok: true, raises: false, reason: `seq ${seq}: the release last accepted` };
    if (seq === mark.seq)
      return {
        ok: false,
        raises: false,
        reason: `seq ${seq} was last accepted for ${mark.digest}, not ${digest}: two releases with one sequence number`,
      };
    return {
      ok: false,
      raises: false,
      reason: `the tag went backwards: seq ${seq} is older than seq ${mark.seq} (${mark.digest}) accepted ${mark.recorded}`,
    };
  }

  /**
   * Under the lock: judges again against the mark as it is now (another verification may have
   * raised it meanwhile) and raises it when the release is newer. Never lowers it, also not
   * with `allowDowngrade` (which only turns a refusal into an accepted downgrade).
   */
  async advance(
    m: Omit<TagMark, 'recorded'>,
    options: { allowDowngrade?: boolean } = {}
  ): Promise<TagJudgement & { downgraded: boolean }> {
    const p = this.path(m.scope, m.name, m.tag);
    return withLock(p, async () => {
      const j = TagState.judge(await this.read(m.scope, m.name, m.tag), m.seq, m.digest);
      if (j.ok && j.raises) {
        const mark: TagMark = { ...m, recorded: new Date().toISOString() };
        await writeFileAtomic(p, `${JSON.stringify(mark)}\n`);
      }
      if (!j.ok && options.allowDowngrade) return { ...j, ok: true, downgraded: true };
      return { ...j, downgraded: false };
    });
  }
}
