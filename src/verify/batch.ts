import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FileRevocationCache, type RevocationOptions } from '../pki/index.ts';
import { verifyArtifact, type VerifyArtifactOptions } from './engine.ts';
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
}

/** Revocation options as the CLI and a webhook configure them. */
export async function revocationSetup(
  r: VerifyArtifactsOptions['revocationData'] = {}
): Promise<Omit<RevocationOptions, 'now'>> {
  const out: Omit<RevocationOptions, 'now'> = {};
  if (r.cache ?? true) out.cache = new FileRevocationCache();
  if (r.offline) out.offline = true;
  if (r.bundleDir)
    out.bundle = await Promise.all((await readdir(r.bundleDir)).map((f) => readFile(join(r.bundleDir!, f))));
  return out;
}

/**
 * `signet verify REF...`: the requirements are loaded once, then each reference goes through the
 * one engine (`verifyArtifact`). Returns one report per reference; never throws for a failed
 * verification (the reports say so), only for usage errors and trouble reaching a store.
 */
export async function verifyArtifacts(
  refs: string[],
  options: VerifyArtifactsOptions = {}
): Promise<VerificationReport[]> {
  const { sources, revocationData: revocation, ...rest } = options;
  const { requirements, registriesD } = await loadRequirements(sources);
  const revocationOptions = await revocationSetup(revocation);
  const out: VerificationReport[] = [];
  for (const ref of refs) {
    out.push(
      await verifyArtifact(ref, requirements, {
        ...rest,
        revocationOptions,
        ...(revocation?.offline ? { offline: true } : {}),
        ...(registriesD ? { registriesD } : {}),
      })
    );
  }
  return out;
}

/** One reference through the engine: `verifyArtifacts([ref], options)[0]`. */
export async function verify(ref: string, options: VerifyArtifactsOptions = {}): Promise<VerificationReport> {
  return (await verifyArtifacts([ref], options))[0]!;
}
