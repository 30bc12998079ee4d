/**
 * Signet: sign OCI artifacts, store the signatures beside them, move both, verify them under a
 * trust policy. The CLI is a thin shell over exactly these functions.
 *
 * Every function entry point loads its implementation on first call (a dynamic `import()`), so
 * importing this module stays cheap for a program that needs one corner of it.
 *
 * @packageDocumentation
 */
import type * as Verify from './verify/index.ts';
import type * as Sign from './sign/index.ts';
import type * as Copy from './copy/index.ts';
import type * as Artifact from './artifact/index.ts';
import type * as Store from './store/index.ts';
import type * as Server from './server/index.ts';
import type { X509Certificate } from 'node:crypto';
import type * as Trust from './trust/index.ts';
import type * as Pki from './pki/index.ts';
import type * as Plugin from './plugin/index.ts';
import type * as Auth from './server/auth/index.ts';
import type * as Freshness from './freshness/index.ts';

export { SignetError, exitCodeFor, signetHome, SIGNET_VERSION, parseDuration } from './util/index.ts';
export { formatReport } from './verify/format.ts';
export { CHECK_NAMES, REPORT_VERSION, failureSummary } from './verify/report.ts';
export type {
  Check,
  CheckName,
  CheckOutcome,
  Family,
  RequirementReport,
  SignatureReport,
  VerificationReport,
  Verdict,
} from './verify/report.ts';
export type {
  Requirement,
  RequirementSources,
  VerifyArtifactOptions,
  VerifyArtifactsOptions,
  ResolvedArtifact,
  Verifier,
  VerifierOptions,
  VerifierStats,
} from './verify/index.ts';
export type { SignOptions, SignResult } from './sign/index.ts';
export type {
  TufInitOptions,
  TufPublishOptions,
  TufRepoOptions,
  TufRole,
  TufStatus,
  TufWriteResult,
  TufRotateOptions,
  TufDelegateOptions,
  TufTrustResult,
} from './freshness/index.ts';
export type { CopyEvent, CopyOptions, CopyReport, CopyRefOptions, ReferrerNode } from './copy/index.ts';
export type { CopyArtifactOptions, CopyArtifactReport, PushOptions } from './artifact/index.ts';
export type { Target, ReadableTarget, OpenOptions, OpenedTarget } from './store/index.ts';
export type { Descriptor, Reference } from './oci/index.ts';
export type {
  VerifyEnvelopeInput,
  VerifyEnvelopeResult,
  ValidationResult,
  VerificationOutcome,
  TrustPolicyDocument,
} from './trust/index.ts';
export type { PrimitiveSigner, EnvelopeContent, BundleSummary } from './signature/index.ts';
export type { RegistryOptions, RunningRegistry, FsckReport, GcOptions, GcReport } from './server/index.ts';

const verifyModule = (): Promise<typeof Verify> => import('./verify/index.ts');
const signModule = (): Promise<typeof Sign> => import('./sign/index.ts');
const copyModule = (): Promise<typeof Copy> => import('./copy/index.ts');
const artifactModule = (): Promise<typeof Artifact> => import('./artifact/index.ts');
const storeModule = (): Promise<typeof Store> => import('./store/index.ts');
const serverModule = (): Promise<typeof Server> => import('./server/index.ts');
const pluginModule = (): Promise<typeof Plugin> => import('./plugin/index.ts');
const freshnessModule = (): Promise<typeof Freshness> => import('./freshness/index.ts');

/**
 * Verifies one artifact against the requirements given (the trust engine): resolves the
 * reference once, finds every family's signatures, returns one {@link VerificationReport}.
 * @example const report = await verifyArtifact('127.0.0.1:5000/app:v1', (await loadRequirements()).requirements);
 */
export async function verifyArtifact(
  ...a: Parameters<typeof Verify.verifyArtifact>
): ReturnType<typeof Verify.verifyArtifact> {
  return (await verifyModule()).verifyArtifact(...a);
}

/** `signet verify REF...`: loads the requirements once (policies in `$SIGNET_HOME`, keys), one report per reference. */
export async function verifyArtifacts(
  ...a: Parameters<typeof Verify.verifyArtifacts>
): ReturnType<typeof Verify.verifyArtifacts> {
  return (await verifyModule()).verifyArtifacts(...a);
}

/** One reference: `verifyArtifacts([ref], options)[0]`. */
export async function verify(...a: Parameters<typeof Verify.verify>): ReturnType<typeof Verify.verify> {
  return (await verifyModule()).verify(...a);
}

/**
 * A long-lived verifier (an admission webhook): requirements loaded once, registry connections
 * kept alive, verified reports cached (bounded LRU) while nothing they depend on changed.
 * @example
 * const verifier = await createVerifier({ sources: { trustPolicy: 'trustpolicy.json', trustStore: 'truststore' } });
 * const report = await verifier.verify('registry.example.com/app@sha256:…');
 */
export async function createVerifier(
  ...a: Parameters<typeof Verify.createVerifier>
): ReturnType<typeof Verify.createVerifier> {
  return (await verifyModule()).createVerifier(...a);
}

/** Builds the requirements of a verification from policy files, documents and keys (flags add to policies). */
export async function loadRequirements(
  ...a: Parameters<typeof Verify.loadRequirements>
): ReturnType<typeof Verify.loadRequirements> {
  return (await verifyModule()).loadRequirements(...a);
}

/** Signs an artifact with a Notary Project signature (JWS or COSE) and attaches it as a referrer. */
export async function sign(...a: Parameters<typeof Sign.sign>): ReturnType<typeof Sign.sign> {
  return (await signModule()).sign(...a);
}

/** Signs the way `cosign sign --key` does (`sha256-<hex>.sig` tag, or an OCI 1.1 referrer). */
export async function signCosign(...a: Parameters<typeof Sign.signCosign>): ReturnType<typeof Sign.signCosign> {
  return (await signModule()).signCosign(...a);
}

/**
 * Signs the way `cosign sign --key … --tlog-upload=false` (cosign 3) does: a v0.3 Sigstore bundle
 * (DSSE in-toto statement naming the digest) stored as a referrer.
 */
export async function signSigstoreBundle(
  ...a: Parameters<typeof Sign.signSigstoreBundle>
): ReturnType<typeof Sign.signSigstoreBundle> {
  return (await signModule()).signSigstoreBundle(...a);
}

/** A key-based Sigstore bundle of a file (`cosign sign-blob --bundle`, without a transparency log). */
export async function signBlobBundle(
  ...a: Parameters<typeof Sign.signBlobBundle>
): ReturnType<typeof Sign.signBlobBundle> {
  return (await signModule()).signBlobBundle(...a);
}

/** Signs with containers simple signing (GPG) into the lookaside registries.d names, or as a referrer. */
export async function signSimple(...a: Parameters<typeof Sign.signSimple>): ReturnType<typeof Sign.signSimple> {
  return (await signModule()).signSimple(...a);
}

/** Signs the named entries of an OCI layout (Flatpak's static design: `org.flatpak.signature-digest`). */
export async function signLayout(...a: Parameters<typeof Sign.signLayout>): ReturnType<typeof Sign.signLayout> {
  return (await signModule()).signLayout(...a);
}

/** Attaches any referrer (a signature, an SBOM) to any artifact in any target. */
export async function attachReferrer(
  ...a: Parameters<typeof Sign.attachReferrer>
): ReturnType<typeof Sign.attachReferrer> {
  return (await signModule()).attachReferrer(...a);
}

/** Pushes files as an OCI 1.1 artifact (one layer per file), optionally as a referrer of another. */
export async function push(...a: Parameters<typeof Artifact.push>): ReturnType<typeof Artifact.push> {
  return (await artifactModule()).push(...a);
}

/** Pulls the titled layers of an artifact into a directory, each checked against its digest. */
export async function pull(...a: Parameters<typeof Artifact.pull>): ReturnType<typeof Artifact.pull> {
  return (await artifactModule()).pull(...a);
}

/** Copies an artifact and its whole referrers graph between two references (registries, layouts, tars). */
export async function copy(...a: Parameters<typeof Artifact.copyArtifact>): ReturnType<typeof Artifact.copyArtifact> {
  return (await artifactModule()).copyArtifact(...a);
}

/** Copies the graph under a descriptor between two open targets. */
export async function copyGraph(...a: Parameters<typeof Copy.copyGraph>): ReturnType<typeof Copy.copyGraph> {
  return (await copyModule()).copyGraph(...a);
}

/** The referrers graph of an artifact (signatures, SBOMs, their signatures). */
export async function discover(
  ...a: Parameters<typeof Artifact.discoverReference>
): ReturnType<typeof Artifact.discoverReference> {
  return (await artifactModule()).discoverReference(...a);
}

/** The signatures of an artifact, decoded (not verified). */
export async function inspect(...a: Parameters<typeof Artifact.inspect>): ReturnType<typeof Artifact.inspect> {
  return (await artifactModule()).inspect(...a);
}

/** A detached Notary Project signature of a file. */
export async function signBlob(...a: Parameters<typeof Sign.signBlob>): ReturnType<typeof Sign.signBlob> {
  return (await signModule()).signBlob(...a);
}

/** Verifies a detached signature of a file under the blob trust policy. */
export async function verifyBlob(...a: Parameters<typeof Verify.verifyBlob>): ReturnType<typeof Verify.verifyBlob> {
  return (await verifyModule()).verifyBlob(...a);
}

/** Verifies a Sigstore bundle of a file or a `sha256:<hex>` digest (`--key` or keyless identities). */
export async function verifySigstoreBlob(
  ...a: Parameters<typeof Verify.verifySigstoreBlob>
): ReturnType<typeof Verify.verifySigstoreBlob> {
  return (await verifyModule()).verifySigstoreBlob(...a);
}

/** Verifies one Notary Project envelope against a policy statement and trust store (no registry). */
export async function verifyEnvelope(
  ...a: Parameters<typeof Trust.verifyEnvelope>
): ReturnType<typeof Trust.verifyEnvelope> {
  const m: typeof Trust = await import('./trust/index.ts');
  return m.verifyEnvelope(...a);
}

/** Opens the store a reference names (registry repository or OCI layout); close it when done. */
export async function openTarget(
  ref: string,
  options: Store.OpenOptions & { create: true }
): Promise<Store.OpenedTarget<Store.Target>>;
export async function openTarget(ref: string, options?: Store.OpenOptions): Promise<Store.OpenedTarget>;
export async function openTarget(ref: string, options?: Store.OpenOptions): Promise<Store.OpenedTarget> {
  return (await storeModule()).openTarget(ref, options);
}

/** `signet tuf init`: a new TUF repository (Layer B, docs/freshness.md) as one OCI artifact; returns the root to pin. */
export async function tufInit(...a: Parameters<typeof Freshness.tufInit>): ReturnType<typeof Freshness.tufInit> {
  return (await freshnessModule()).tufInit(...a);
}

/** `signet tuf publish`: adds or updates the TUF target `oci:<name>:<tag>` of a reference (its digest, resolved once). */
export async function tufPublish(
  ...a: Parameters<typeof Freshness.tufPublish>
): ReturnType<typeof Freshness.tufPublish> {
  return (await freshnessModule()).tufPublish(...a);
}

/** `signet tuf remove`: withdraws a release (`NAME:TAG`) from the TUF targets. */
export async function tufRemove(...a: Parameters<typeof Freshness.tufRemove>): ReturnType<typeof Freshness.tufRemove> {
  return (await freshnessModule()).tufRemove(...a);
}

/** `signet tuf timestamp`: re-signs the timestamp (and the snapshot when it would expire first). */
export async function tufTimestamp(
  ...a: Parameters<typeof Freshness.tufTimestamp>
): ReturnType<typeof Freshness.tufTimestamp> {
  return (await freshnessModule()).tufTimestamp(...a);
}

/** `signet tuf rotate`: new keys for a role (a new root version signed by the old and new root thresholds). */
export async function tufRotate(...a: Parameters<typeof Freshness.tufRotate>): ReturnType<typeof Freshness.tufRotate> {
  return (await freshnessModule()).tufRotate(...a);
}

/** `signet tuf delegate`: a delegated targets role for some release paths (a team, a CI job). */
export async function tufDelegate(
  ...a: Parameters<typeof Freshness.tufDelegate>
): ReturnType<typeof Freshness.tufDelegate> {
  return (await freshnessModule()).tufDelegate(...a);
}

/**
 * `signet tuf trust TUFREF TYPE:NAME`: Layer C — the certificates of the local trust store
 * TYPE:NAME (in `trustStore`, default `$SIGNET_HOME/truststore`) become the TUF targets
 * `x509:TYPE:NAME/<sha256>`; targets of certificates no longer in it are removed (revoked).
 */
export async function tufTrust(
  ref: string,
  store: string,
  opts: Freshness.TufRepoOptions & { trustStore?: string } = {}
): ReturnType<typeof Freshness.tufTrust> {
  const { trustStore, ...o } = opts;
  const i = store.indexOf(':');
  const { TrustStore } = await import('./trust/index.ts');
  TrustStore.checkName(store.slice(0, i), store.slice(i + 1));
  const certs = await new TrustStore(trustStore).getCertificates(
    store.slice(0, i) as Trust.StoreType,
    store.slice(i + 1)
  );
  return (await freshnessModule()).tufTrust(
    ref,
    store,
    certs.map((c) => ({ der: c.raw, subject: c.subject.replace(/\n/g, ', ') })),
    o
  );
}

/** `signet tuf status`: versions, expiries and targets of a TUF repository, read through the client workflow. */
export async function tufStatus(...a: Parameters<typeof Freshness.tufStatus>): ReturnType<typeof Freshness.tufStatus> {
  return (await freshnessModule()).tufStatus(...a);
}

/** Installs a Notary Project plugin executable under `$SIGNET_HOME/plugins/<name>/`. */
export async function installPlugin(
  ...a: Parameters<typeof Plugin.installPlugin>
): ReturnType<typeof Plugin.installPlugin> {
  return (await pluginModule()).installPlugin(...a);
}

/** Removes an installed plugin. */
export async function uninstallPlugin(
  ...a: Parameters<typeof Plugin.uninstallPlugin>
): ReturnType<typeof Plugin.uninstallPlugin> {
  return (await pluginModule()).uninstallPlugin(...a);
}

/** The installed plugins' metadata (each asked with get-plugin-metadata); a broken one says why. */
export async function listPlugins(): Promise<Array<Plugin.PluginMetadata | { name: string; error: string }>> {
  const { listPluginNames, PluginClient } = await pluginModule();
  const out: Array<Plugin.PluginMetadata | { name: string; error: string }> = [];
  for (const name of await listPluginNames()) {
    try {
      out.push(await (await PluginClient.open(name)).metadata());
    } catch (err) {
      out.push({ name, error: (err as Error).message });
    }
  }
  return out;
}

/** Asks an installed plugin for its metadata (proves it runs and speaks the protocol). */
export async function pluginMetadata(name: string): Promise<Plugin.PluginMetadata> {
  const { PluginClient } = await pluginModule();
  return (await PluginClient.open(name)).metadata();
}

/** The embedded registry's authorizer from a `signet serve --auth` file. */
export async function createAuthorizer(
  ...a: Parameters<typeof Auth.createAuthorizer>
): ReturnType<typeof Auth.createAuthorizer> {
  return (await import('./server/auth/index.ts')).createAuthorizer(...a);
}

/** Stores registry credentials in docker's config.json after checking them against the registry. */
export async function login(...a: Parameters<typeof Store.login>): ReturnType<typeof Store.login> {
  return (await storeModule()).login(...a);
}

/** Removes a registry's credentials from docker's config.json. */
export async function logout(...a: Parameters<typeof Store.logout>): ReturnType<typeof Store.logout> {
  return (await storeModule()).logout(...a);
}

/** Starts the embedded OCI registry (`signet serve`). */
export async function startRegistry(
  ...a: Parameters<typeof Server.startRegistry>
): ReturnType<typeof Server.startRegistry> {
  return (await serverModule()).startRegistry(...a);
}

/** Starts `signet serve --upstream`: a stateless, verifying pull-through in front of another registry. */
export async function startPullThrough(
  ...a: Parameters<typeof Server.startPullThrough>
): ReturnType<typeof Server.startPullThrough> {
  return (await serverModule()).startPullThrough(...a);
}

/** Checks an embedded registry's store: every object against its digest, every reference against existence. */
export async function fsck(...a: Parameters<typeof Server.fsck>): ReturnType<typeof Server.fsck> {
  return (await serverModule()).fsck(...a);
}

/**
 * Garbage collection of an embedded registry's store (`signet serve gc`): unreferenced blobs
 * older than the grace period, expired upload sessions, stale temp files. Safe beside a running server.
 */
export async function gc(...a: Parameters<typeof Server.gc>): ReturnType<typeof Server.gc> {
  return (await serverModule()).gc(...a);
}

/** The key store (`$SIGNET_HOME/keys` by default): generate, import, list, export keys. */
export async function openKeyStore(home?: string): Promise<Pki.KeyStore> {
  const { KeyStore } = await import('./pki/index.ts');
  return new KeyStore(home);
}

/** The trust store (`$SIGNET_HOME/truststore` by default): `ca`, `signingAuthority` and `tsa` stores. */
export async function openTrustStore(dir?: string): Promise<Trust.TrustStore> {
  const { TrustStore } = await import('./trust/index.ts');
  return new TrustStore(dir);
}

/** Parses and validates an OCI trust policy document (JSON text or object); a coded error names the broken rule. */
export async function loadTrustPolicy(json: unknown): Promise<Trust.TrustPolicyDocument> {
  return (await import('./trust/index.ts')).loadTrustPolicy(json);
}

/** Parses and validates a blob trust policy document. */
export async function loadBlobTrustPolicy(json: unknown): Promise<Trust.TrustPolicyDocument> {
  return (await import('./trust/index.ts')).loadBlobTrustPolicy(json);
}

/** `signet policy init`: one statement into the policy in place (added, or replacing its namesake), validated. */
export async function writeTrustPolicyStatement(
  ...a: Parameters<typeof Trust.writeTrustPolicyStatement>
): ReturnType<typeof Trust.writeTrustPolicyStatement> {
  return (await import('./trust/index.ts')).writeTrustPolicyStatement(...a);
}

/** `signet policy import`: validates a policy document and makes it the active one. */
export async function importTrustPolicy(
  ...a: Parameters<typeof Trust.importTrustPolicy>
): ReturnType<typeof Trust.importTrustPolicy> {
  return (await import('./trust/index.ts')).importTrustPolicy(...a);
}

/** `signet policy show`: the active policy's text, validated. */
export async function readTrustPolicyText(
  ...a: Parameters<typeof Trust.readTrustPolicyText>
): ReturnType<typeof Trust.readTrustPolicyText> {
  return (await import('./trust/index.ts')).readTrustPolicyText(...a);
}

/** X.509 certificates from PEM or DER bytes (`where` names the source in errors). */
export async function parseCertificates(data: Uint8Array | string, where?: string): Promise<X509Certificate[]> {
  return (await import('./pki/index.ts')).parseCertificates(data, where);
}

/** Certificates as PEM text. */
export async function toPem(certs: X509Certificate[]): Promise<string> {
  return (await import('./pki/index.ts')).toPem(certs);
}

// Light values only: the classes and low-level pieces live in the subpath entry points
// (signet/pki, signet/trust, signet/signature, signet/store, signet/oci, signet/server), so that
// importing this module loads none of them.
export { defaultTrustPolicyPath } from './util/index.ts';
export { KEY_TYPES } from './pki/key-types.ts';
export { parseReference } from './oci/reference.ts';
export type { KeyType, GpgKeyType, KeyDescription, KeyStore } from './pki/index.ts';
export type { StoreType, TrustStore } from './trust/index.ts';
export type { PluginMetadata } from './plugin/index.ts';
