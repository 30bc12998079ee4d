import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { formatReference, parseReference } from '../oci/index.ts';
import { FileRevocationCache, type RevocationOptions } from '../pki/index.ts';
import { openTarget, RegistryClientPool } from '../store/index.ts';
import { verifyArtifact, type VerifyArtifactOptions } from './engine.ts';
import { readFileBounded, SignetError } from '../util/index.ts';
import { MAX_SMALL_SIGNATURE } from './discover.ts';
import { loadRequirements, type RequirementSources } from './load.ts';
import type { VerificationReport } from './report.ts';

export interface VerifyArtifactsOptions extends Omit<VerifyArtifactOptions, 'registriesD' | 'revocationOptions'> {
  /** Where the requirements come from (policies, keys); `$SIGNET_HOME` defaults apply. */
  sources?: RequirementSources;
  /**
   * Revocation data: `cache` (default on: `$XDG_CACHE_HOME/signet/revocation`), `offline` (no
   * network but the artifact's own store: revocation from the cache and the bundle only, no HTTP
   * lookaside), `bundleDir` (CRL files brought along).
   */
  revocationData?: { cache?: boolean; offline?: boolean; bundleDir?: string };
  /**
   * References verified at once (default 8). Each is judged on its own; the reports come back in
   * the order of the references, and one reference's failure never touches another's report.
   */
  concurrency?: number;
}

/** The default number of references `verifyArtifacts` verifies at once. */
export const DEFAULT_CONCURRENCY = 8;

/**
 * Maps `items` through `fn` with at most `limit` calls in flight, results in input order. After
 * a call throws, no new one starts; the calls already running settle, then the error of the
 * earliest item that threw is thrown (what a one-at-a-time loop would have thrown first).
 */
export async function mapConcurrent<T, R>(
  items: T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>
): Promise<R[]> {
  const out = new Array<R>(items.length);
  const errors = new Map<number, unknown>();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length && errors.size === 0) {
      const i = next++;
      try {
        out[i] = await fn(items[i]!, i);
      } catch (err) {
        errors.set(i, err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (errors.size) throw errors.get(Math.min(...errors.keys()));
  return out;
}

function checkConcurrency(n: number | undefined): number {
  if (n === undefined) return DEFAULT_CONCURRENCY;
  if (!Number.isSafeInteger(n) || n < 1 || n > 256)
    throw new SignetError('USAGE', `concurrency must be a whole number from 1 to 256, not ${String(n)}`);
  return n;
}

/** Revocation options as the CLI and a webhook configure them. */
export async function revocationSetup(
  r: VerifyArtifactsOptions['revocationData'] = {}
): Promise<Omit<RevocationOptions, 'now'>> {
  const out: Omit<RevocationOptions, 'now'> = {};
  if (r.cache ?? true) out.cache = new FileRevocationCache();
  if (r.offline) out.offline = true;
  if (r.bundleDir)
    out.bundle = await Promise.all(
      (await readdir(r.bundleDir)).map((f) =>
        readFileBounded(join(r.bundleDir!, f), MAX_SMALL_SIGNATURE, `bundle file ${join(r.bundleDir!, f)}`)
      )
    );
  return out;
}

/**
 * `signet verify REF...`: the requirements (trust policy, trust store, keys) and the revocation
 * setup are loaded once, then the references go through the one engine (`verifyArtifact`),
 * `concurrency` at a time, sharing one keep-alive client per registry. Returns one report per
 * reference, in order; never throws for a failed verification (the reports say so), only for
 * usage errors and trouble reaching a store.
 */
export async function verifyArtifacts(
  refs: string[],
  options: VerifyArtifactsOptions = {}
): Promise<VerificationReport[]> {
  const { sources, revocationData: revocation, concurrency, ...rest } = options;
  const limit = checkConcurrency(concurrency);
  const { requirements, registriesD } = await loadRequirements(sources);
  const revocationOptions = await revocationSetup(revocation);
  const ownPool = !options.open?.pool;
  const pool = options.open?.pool ?? new RegistryClientPool();
  const open = { ...options.open, pool };
  try {
    return await mapConcurrent(await expandLayouts(refs, open), limit, (ref) =>
      verifyArtifact(ref, requirements, {
        ...rest,
        open,
        revocationOptions,
        ...(revocation?.offline ? { offline: true } : {}),
        ...(registriesD ? { registriesD } : {}),
      })
    );
  } finally {
    if (ownPool) await pool.close();
  }
}

/**
 * A layout named without a tag or digest stands for every named manifest it holds (a signed
 * Flatpak repository is verified ref by ref); one named manifest is named by the layout alone.
 */
async function expandLayouts(refs: string[], open: VerifyArtifactsOptions['open']): Promise<string[]> {
  const out: string[] = [];
  for (const ref of refs) {
    const parsed = parseReference(ref);
    if (parsed.kind !== 'layout' || parsed.tag || parsed.digest) {
      out.push(ref);
      continue;
    }
    const { target } = await openTarget(parsed, open);
    try {
      const tags = await target.tags();
      if (tags.length > 1) out.push(...tags.map((t) => formatReference({ ...parsed, tag: t })));
      else out.push(ref);
    } finally {
      await target.close();
    }
  }
  return out;
}

/** One reference through the engine: `verifyArtifacts([ref], options)[0]`. */
export async function verify(ref: string, options: VerifyArtifactsOptions = {}): Promise<VerificationReport> {
  return (await verifyArtifacts([ref], options))[0]!;
}
