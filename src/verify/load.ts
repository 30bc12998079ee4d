import type { KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FreshnessState } from '../freshness/index.ts';
import { loadRegistriesD, parseCosignPublicKey, type RegistriesD } from '../signature/index.ts';
import {
  loadContainersPolicy,
  loadTrustPolicyFile,
  TrustStore,
  type ContainersPolicy,
  type TrustPolicyDocument,
} from '../trust/index.ts';
import { defaultTrustPolicyPath, SignetError, signetHome } from '../util/index.ts';
import type { Requirement } from './requirements/types.ts';

/** Where the requirements of one verification come from; paths are read here, objects used as they are. */
export interface RequirementSources {
  /** Notary Project trust policy; default `$SIGNET_HOME/trustpolicy.oci.json` or `trustpolicy.json` when present. */
  trustPolicy?: string | TrustPolicyDocument;
  /** Trust store directory or instance; default `$SIGNET_HOME/truststore`. */
  trustStore?: string | TrustStore;
  /** containers policy.json; default `$SIGNET_HOME/policy.json` when present. */
  containersPolicy?: string | ContainersPolicy;
  /** containers registries.d directory (lookaside locations of simple signatures). */
  registriesD?: string | RegistriesD;
  /** cosign public keys (PEM files, PEM bytes or keys): adds a `cosign-key` requirement. */
  cosignKeys?: Array<string | Uint8Array | KeyObject>;
  /** OpenPGP public keys (files or bytes) of statically signed layouts: adds a `layout-key` requirement. */
  layoutKeys?: Array<string | Uint8Array>;
  /** Remembered signed times of layout refs (rollback); default under `$SIGNET_HOME/freshness`. */
  freshness?: FreshnessState;
  /** Read the `$SIGNET_HOME` defaults when no file is named (default true). */
  defaults?: boolean;
}

function named(path: string, what: string): string {
  if (!existsSync(path)) throw new SignetError('USAGE', `${what} ${path} does not exist`);
  return path;
}

async function bytesOf(x: string | Uint8Array): Promise<Uint8Array> {
  return typeof x === 'string' ? readFile(named(x, 'key file')) : x;
}

/**
 * Builds the requirements of one verification. Every configured source is a requirement: the
 * trust policy and the containers policy (given, or found in `$SIGNET_HOME`), plus one for cosign
 * keys and one for layout keys. Flags add to the policies; with no policy at all the flags alone
 * are the requirements; nothing at all is an error (a verification never passes by default).
 */
export async function loadRequirements(
  sources: RequirementSources = {}
): Promise<{ requirements: Requirement[]; registriesD?: RegistriesD }> {
  const defaults = sources.defaults ?? true;
  const requirements: Requirement[] = [];
  let trustPolicy = sources.trustPolicy;
  if (typeof trustPolicy === 'string') named(trustPolicy, 'trust policy file');
  else if (trustPolicy === undefined && defaults && existsSync(defaultTrustPolicyPath()))
    trustPolicy = defaultTrustPolicyPath();
  if (trustPolicy !== undefined) {
    const document = typeof trustPolicy === 'string' ? await loadTrustPolicyFile(trustPolicy) : trustPolicy;
    const trustStore =
      sources.trustStore instanceof TrustStore ? sources.trustStore : new TrustStore(sources.trustStore);
    requirements.push({ kind: 'trust-policy', document, trustStore });
  }
  let containers = sources.containersPolicy;
  const homeContainers = join(signetHome(), 'policy.json');
  if (typeof containers === 'string') named(containers, 'containers policy file');
  else if (containers === undefined && defaults && existsSync(homeContainers)) containers = homeContainers;
  if (containers !== undefined)
    requirements.push({
      kind: 'containers-policy',
      policy: typeof containers === 'string' ? await loadContainersPolicy(containers) : containers,
    });
  if (sources.cosignKeys?.length) {
    const keys = await Promise.all(
      sources.cosignKeys.map(async (k) =>
        typeof k === 'object' && !(k instanceof Uint8Array) ? k : parseCosignPublicKey(await bytesOf(k))
      )
    );
    requirements.push({ kind: 'cosign-key', keys });
  }
  if (sources.layoutKeys?.length) {
    const keys = await Promise.all(sources.layoutKeys.map(bytesOf));
    requirements.push({ kind: 'layout-key', keys, ...(sources.freshness ? { state: sources.freshness } : {}) });
  }
  if (!requirements.length) {
    throw new SignetError(
      'POLICY_MISSING',
      'no policy is configured: a Notary trust policy (signet policy init or import), a containers policy.json, cosign keys or layout keys'
    );
  }
  const rd = typeof sources.registriesD === 'string' ? await loadRegistriesD(sources.registriesD) : sources.registriesD;
  return { requirements, ...(rd ? { registriesD: rd } : {}) };
}
