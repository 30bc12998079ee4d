import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SignetError, signetHome, writeFileAtomic } from '../../util/index.ts';

/**
 * What `signet tuf init` (and later `rotate` and `delegate`) recorded for one TUFREF: key names,
 * thresholds, expiries and the pinned root, in `$SIGNET_HOME/tuf/<sha256 of TUFREF>.json`. Every
 * writing command reads it; nothing here is trusted by a verifier (the verifier pins the root).
 */

export const TUF_ROLES = ['root', 'targets', 'snapshot', 'timestamp'] as const;
export type TufRole = (typeof TUF_ROLES)[number];

export const DEFAULT_EXPIRES: Record<TufRole, number> = {
  root: 365 * 86_400_000,
  targets: 90 * 86_400_000,
  snapshot: 7 * 86_400_000,
  timestamp: 86_400_000,
};

/** A delegated targets role (`signet tuf delegate`). */
export interface TufDelegation {
  keys: string[];
  threshold: number;
  /** Target path patterns (`oci:acme/app:*`). */
  paths: string[];
}

export interface TufRepoConfig {
  ref: string;
  /** `sha256:<hex>` of `1.root.json`: what verifiers pin. */
  root: string;
  keys: Record<TufRole, string[]>;
  thresholds: Record<TufRole, number>;
  /** Expiry per role, in milliseconds from signing (delegated roles use the targets expiry). */
  expires: Record<TufRole, number>;
  delegations?: Record<string, TufDelegation>;
}

function configPath(ref: string, home = signetHome()): string {
  return join(home, 'tuf', `${createHash('sha256').update(ref).digest('hex')}.json`);
}

export async function readTufConfig(ref: string, home?: string): Promise<TufRepoConfig> {
  const p = configPath(ref, home);
  try {
    return JSON.parse(await readFile(p, 'utf8')) as TufRepoConfig;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT')
      throw new SignetError('USAGE', `no TUF repository was initialised here for ${ref} (signet tuf init)`);
    throw new SignetError('STATE_CORRUPT', `${p} is damaged: ${(err as Error).message}`);
  }
}

export async function writeTufConfig(config: TufRepoConfig, home?: string): Promise<void> {
  const p = configPath(config.ref, home);
  await mkdir(join(p, '..'), { recursive: true, mode: 0o700 });
  await writeFileAtomic(p, `${JSON.stringify(config, null, 2)}\n`);
}

/** The key names and threshold of a top-level or delegated role. */
export function roleKeys(config: TufRepoConfig, role: string): { keys: string[]; threshold: number } {
  if ((TUF_ROLES as readonly string[]).includes(role))
    return { keys: config.keys[role as TufRole], threshold: config.thresholds[role as TufRole] };
  const d = config.delegations?.[role];
  if (!d) throw new SignetError('USAGE', `${config.ref} has no role ${JSON.stringify(role)} (signet tuf delegate)`);
  return { keys: d.keys, threshold: d.threshold };
}
