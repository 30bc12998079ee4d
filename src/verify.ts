import { formatReference, isImageIndex, type Descriptor, type Reference } from './oci/index.ts';
import { isNotarySignatureManifest, MAX_ENVELOPE_SIZE, SIGNATURE_ARTIFACT_TYPE } from './signature/index.ts';
import { fetchAll, fetchManifest, openTarget, type OpenOptions, type Target } from './store/index.ts';
import {
  loadTrustPolicyFile,
  selectPolicy,
  TrustStore,
  verifySignature,
  type TrustPolicyDocument,
  type ValidationResult,
  type VerifyOptions,
} from './trust/index.ts';
import { SignetError, signetHome } from './util/index.ts';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export interface VerifyRefOptions extends Omit<VerifyOptions, 'now' | 'userMetadata'> {
  /** The OCI trust policy (parsed document), or a path; default `$SIGNET_HOME/trustpolicy.json`. */
  trustPolicy?: TrustPolicyDocument | string;
  /** Trust store directory or instance; default `$SIGNET_HOME/truststore`. */
  trustStore?: string | TrustStore;
  userMetadata?: Record<string, string>;
  /** Signatures tried at most (bounded work on hostile registries). Default 50. */
  maxSignatures?: number;
  now?: Date;
  open?: OpenOptions;
  /**
   * An image index (full reference) that lists this manifest: when the manifest has no signature
   * of its own that verifies, the index's signatures are checked and reported.
   */
  coveringIndex?: string;
  /** Accept a platform manifest whose only valid signature is on `coveringIndex`. */
  acceptIndexSignature?: boolean;
}

export interface SignatureReport {
  digest: string;
  envelopeMediaType?: string;
  verified: boolean;
  results: ValidationResult[];
  signer?: string;
  signingTime?: string;
}

export interface ArtifactVerification {
  /** The artifact, pinned by digest. */
  reference: string;
  subject: Descriptor;
  verified: boolean;
  policy?: string;
  level?: string;
  /** Why verification failed when no signature got to the checks. */
  message?: string;
  signatures: SignatureReport[];
  /** Set when a covering index was checked for a manifest without a valid signature of its own. */
  coveredBy?: { index: string; verified: boolean; accepted: boolean };
}

/** The reference policy scopes are matched against: `registry/repository@digest`, or the layout path. */
export function policyReference(parsed: Reference, digest: string): string {
  return parsed.kind === 'registry' ? `${parsed.registry}/${parsed.repository}@${digest}` : `${parsed.path}@${digest}`;
}

export function defaultTrustPolicyPath(): string {
  const home = signetHome();
  const oci = join(home, 'trustpolicy.oci.json');
  return existsSync(oci) ? oci : join(home, 'trustpolicy.json');
}

/** Every Notary Project signature manifest referring to `subject` (both manifest forms). */
export async function listSignatures(target: Target, subject: Descriptor, max = 50): Promise<Descriptor[]> {
  const all = await target.referrers(subject, SIGNATURE_ARTIFACT_TYPE);
  return all.slice(0, max);
}

/**
 * `signet verify`: resolves the artifact, selects the policy statement, and verifies its
 * signatures one by one until one passes every check its level enforces. No policy, no match, no
 * signature: a failure, never a pass. Registry or network trouble throws (inconclusive).
 */
export async function verify(ref: string, options: VerifyRefOptions = {}): Promise<ArtifactVerification> {
  const doc = typeof options.trustPolicy === 'object' ? options.trustPolicy : await loadTrustPolicyFile(options.trustPolicy ?? defaultTrustPolicyPath());
  const store = options.trustStore instanceof TrustStore ? options.trustStore : new TrustStore(options.trustStore);
  const { target, reference, parsed } = await openTarget(ref, options.open);
  try {
    if (!reference) throw new SignetError('USAGE', `${ref} needs a tag or digest`, { kind: 'usage' });
    const root = await target.resolve(reference);
    const subject: Descriptor = { mediaType: root.mediaType, digest: root.digest, size: root.size };
    const pinned = formatReference({ ...parsed, tag: undefined, digest: subject.digest } as Reference);
    const out: ArtifactVerification = { reference: pinned, subject, verified: false, signatures: [] };
    let statement;
    try {
      statement = selectPolicy(doc, policyReference(parsed, subject.digest));
    } catch (err) {
      if (err instanceof SignetError && err.code === 'NO_APPLICABLE_POLICY') return { ...out, message: err.message };
      throw err;
    }
    out.policy = statement.name;
    out.level = statement.level;
    if (statement.level === 'skip') return { ...out, verified: true, message: `policy "${statement.name}" skips verification` };
    const sigs = await listSignatures(target, subject, options.maxSignatures ?? 50);
    if (sigs.length === 0) out.message = `no signature is associated with "${pinned}"`;
    const verifyOptions: VerifyOptions = { ...options };
    for (const sig of sigs) {
      const report: SignatureReport = { digest: sig.digest, verified: false, results: [] };
      out.signatures.push(report);
      const { manifest } = await fetchManifest(target, sig);
      if (!isNotarySignatureManifest(manifest) || manifest.layers.length !== 1 || manifest.subject?.digest !== subject.digest) {
        report.results.push({ type: 'integrity', action: 'enforce', ok: false, message: 'not a Notary Project signature manifest (one envelope layer, subject = the artifact)' });
        continue;
      }
      const layer = manifest.layers[0]!;
      report.envelopeMediaType = layer.mediaType;
      if (layer.size > MAX_ENVELOPE_SIZE) {
        report.results.push({ type: 'integrity', action: 'enforce', ok: false, message: `signature envelope is ${layer.size} bytes, over the ${MAX_ENVELOPE_SIZE}-byte limit` });
        continue;
      }
      const envelope = await fetchAll(target, layer, MAX_ENVELOPE_SIZE);
      const o = await verifySignature({ envelope, mediaType: layer.mediaType, subject, statement, trustStore: store, options: verifyOptions });
      report.verified = o.verified;
      report.results = o.results;
      if (o.content) {
        report.signer = o.content.signerInfo.certificateChain[0]!.subject.split('\n').reverse().join(', ');
        const t = o.content.signerInfo.signingTime ?? o.content.signerInfo.authenticSigningTime;
        if (t) report.signingTime = t.toISOString();
      }
      if (o.verified) {
        out.verified = true;
        break;
      }
    }
    if (!out.verified && options.coveringIndex) await checkCoveringIndex(out, options);
    return out;
  } finally {
    await target.close();
  }
}

/** Multi-arch: a platform manifest covered only by a signed index is reported, and accepted only when asked. */
async function checkCoveringIndex(out: ArtifactVerification, options: VerifyRefOptions): Promise<void> {
  const indexRef = options.coveringIndex!;
  const { target, reference } = await openTarget(indexRef, options.open);
  try {
    if (!reference) throw new SignetError('USAGE', `--index ${indexRef} needs a tag or digest`, { kind: 'usage' });
    const idx = await target.resolve(reference);
    const { manifest } = await fetchManifest(target, idx);
    const lists = isImageIndex(manifest) && manifest.manifests.some((m) => m.digest === out.subject.digest);
    if (!lists) {
      out.message = `${out.message ? `${out.message}; ` : ''}${indexRef} (${idx.digest}) does not list ${out.subject.digest}`;
      return;
    }
  } finally {
    await target.close();
  }
  const { coveringIndex: _c, acceptIndexSignature: _a, ...rest } = options;
  const v = await verify(indexRef, rest);
  const accepted = v.verified && Boolean(options.acceptIndexSignature);
  out.coveredBy = { index: v.reference, verified: v.verified, accepted };
  if (accepted) {
    out.verified = true;
    out.message = `no valid signature of its own; accepted because the signed index ${v.reference} lists it`;
  } else if (v.verified) {
    out.message = `no valid signature of its own; it is covered by the signed index ${v.reference} (accept that with --accept-index-signature)`;
  } else {
    out.message = `${out.message ? `${out.message}; ` : ''}the index ${v.reference} does not verify either`;
  }
}
