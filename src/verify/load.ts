import { createHash, type KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { FreshnessState } from '../freshness/index.ts';
import { loadRegistriesD, parseCosignPublicKey, type RegistriesD } from '../signature/index.ts';
import {
  loadContainersPolicy,
  loadTrustPolicyFile,
  TrustStore,
  type ContainersPolicy,
  type TrustPolicyDocument,
} from '../trust/index.ts';
import {
  defaultTrustPolicyPath,
  MAX_CONFIG_FILE_SIZE,
  readFileBounded,
  SignetError,
  signetHome,
} from '../util/index.ts';
import type { TrustedRoot } from '@sigstore/protobuf-specs';
import { identityMatcher, parseTrustedRoot, type SigstoreIdentity } from './families/sigstore.ts';
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
  /**
   * Sigstore bundles (`--key`, `--certificate-identity…`, `--trusted-root`): adds a `sigstore`
   * requirement, satisfied by a bundle signed by one of `keys` (PEM files, bytes or keys) or keyless
   * by one of `identities` under `trustedRoot` (a trusted_root.json; without one, the public-good
   * root through @sigstore/tuf, cached under `$SIGNET_HOME/sigstore-tuf`).
   */
  sigstore?: {
    keys?: Array<string | Uint8Array | KeyObject>;
    identities?: SigstoreIdentity[];
    trustedRoot?: string | Uint8Array;
    /** Only DSSE attestations with this in-toto predicate type count (`--attestation-type`). */
    attestationType?: string;
    /** `sha256:<hex>` the trusted root's bytes must have (a trust policy's `trustedRootDigest`). */
    trustedRootDigest?: string;
    /** `--offline`: the public-good trusted root from the `$SIGNET_HOME` cache only, its age reported. */
    offline?: boolean;
  };
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
  return typeof x === 'string' ? readFileBounded(named(x, 'key file'), MAX_CONFIG_FILE_SIZE) : x;
}

/** PEM public keys (files, bytes or keys), as `--cosign-key` and `--key` take them. */
function publicKeys(keys: Array<string | Uint8Array | KeyObject>): Promise<KeyObject[]> {
  return Promise.all(
    keys.map(async (k) =>
      typeof k === 'object' && !(k instanceof Uint8Array) ? k : parseCosignPublicKey(await bytesOf(k))
    )
  );
}

export async function sigstoreRequirement(
  sig: NonNullable<RequirementSources['sigstore']>
): Promise<Extract<Requirement, { kind: 'sigstore' }>> {
  const identities = sig.identities ?? [];
  for (const id of identities) identityMatcher(id); // a broken identity is a usage error now, not a failure later
  let trustedRoot: TrustedRoot | undefined;
  let note: string | undefined;
  if (sig.trustedRoot !== undefined) {
    const where = typeof sig.trustedRoot === 'string' ? sig.trustedRoot : 'the trusted root';
    const bytes =
      typeof sig.trustedRoot === 'string'
        ? await readFileBounded(named(sig.trustedRoot, 'trusted root file'), MAX_CONFIG_FILE_SIZE)
        : sig.trustedRoot;
    if (sig.trustedRootDigest !== undefined) {
      const got = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
      if (got !== sig.trustedRootDigest)
        throw new SignetError(
          'VERIFICATION_FAILED',
          `${where} is ${got}, not the pinned trustedRootDigest ${sig.trustedRootDigest}: a root is trusted only by its digest`
        );
    }
    trustedRoot = parseTrustedRoot(bytes, where);
  } else if (identities.length) {
    // The public-good instance, through TUF from its embedded initial root; cached in $SIGNET_HOME.
    const { getTrustedRoot, DEFAULT_MIRROR_URL } = await import('@sigstore/tuf');
    const cachePath = join(signetHome(), 'sigstore-tuf');
    if (sig.offline) {
      // @sigstore/tuf keeps one directory per mirror, named by its host and path
      const u = new URL(DEFAULT_MIRROR_URL);
      const dir = join(cachePath, encodeURIComponent(u.host + u.pathname.replace(/\/$/, '')));
      const seen = await stat(join(dir, 'timestamp.json')).catch(() => undefined);
      if (!seen)
        throw new SignetError(
          'UNAVAILABLE',
          `--offline: no cached public-good Sigstore trusted root in ${dir} (verify once online, or give --trusted-root FILE)`
        );
      const days = (Date.now() - seen.mtimeMs) / 86_400_000;
      note = `the public-good trusted root from the cache ${dir}, last refreshed ${days.toFixed(1)} day(s) ago (--offline: not refreshed)`;
    }
    trustedRoot = await getTrustedRoot({ cachePath, ...(sig.offline ? { forceCache: true } : {}) });
  }
  return {
    kind: 'sigstore',
    name: 'sigstore',
    policy: {
      keys: await publicKeys(sig.keys ?? []),
      identities,
      ...(trustedRoot ? { trustedRoot } : {}),
      ...(sig.attestationType !== undefined ? { predicateType: sig.attestationType } : {}),
      ...(note ? { note } : {}),
    },
  };
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
    requirements.push({ kind: 'cosign-key', keys: await publicKeys(sources.cosignKeys) });
  }
  const sig = sources.sigstore;
  if (sig && (sig.keys?.length || sig.identities?.length)) requirements.push(await sigstoreRequirement(sig));
  if (sources.layoutKeys?.length) {
    const keys = await Promise.all(sources.layoutKeys.map(bytesOf));
    requirements.push({ kind: 'layout-key', keys, ...(sources.freshness ? { state: sources.freshness } : {}) });
  }
  if (!requirements.length) {
    throw new SignetError(
      'POLICY_MISSING',
      'no policy is configured: a Notary trust policy (signet policy init or import), a containers policy.json, cosign keys, Sigstore keys or identities, or layout keys'
    );
  }
  const rd = typeof sources.registriesD === 'string' ? await loadRegistriesD(sources.registriesD) : sources.registriesD;
  return { requirements, ...(rd ? { registriesD: rd } : {}) };
}
