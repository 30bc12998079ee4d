import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { formatReference, parseReference } from '../oci/index.ts';
import { FileRevocationCache, type RevocationOptions } from '../pki/index.ts';
import { openTarget } from '../store/index.ts';
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
  for (const ref of await expandLayouts(refs, options.open)) {
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
