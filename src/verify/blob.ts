import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { digestFile, digestOf, type ArtifactDigestAlgorithm, type Descriptor } from '../oci/index.ts';
import { signatureAlgorithmFor } from '../pki/index.ts';
import { COSE_MEDIA_TYPE, JWS_MEDIA_TYPE, MAX_ENVELOPE_SIZE, parseEnvelope } from '../signature/index.ts';
import { loadTrustPolicyFile, selectBlobPolicy, TrustStore, type TrustPolicyDocument } from '../trust/index.ts';
import { readFileBounded, SignetError, signetHome } from '../util/index.ts';
import { MAX_SMALL_SIGNATURE } from './discover.ts';
import { verifyNotarySignature } from './families/notary.ts';
import { verifySigstoreBundle } from './families/sigstore.ts';
import { sigstoreRequirement, type RequirementSources } from './load.ts';
import { check, overallVerdict, REPORT_VERSION, type VerificationReport } from './report.ts';

/**
 * Verifies a detached signature of a file under the blob trust policy, through the same Notary
 * family verifier as every artifact, into the same report.
 */
export async function verifyBlob(
  file: string,
  signaturePath: string,
  options: {
    policyName?: string;
    trustPolicy?: TrustPolicyDocument | string;
    trustStore?: string;
    mediaType?: string;
    userMetadata?: Record<string, string>;
    now?: Date;
  } = {}
): Promise<VerificationReport> {
  const mediaType = signaturePath.endsWith('.cose.sig')
    ? COSE_MEDIA_TYPE
    : signaturePath.endsWith('.jws.sig')
      ? JWS_MEDIA_TYPE
      : undefined;
  if (!mediaType)
    throw new SignetError(
      'USAGE',
      'the signature file name must end in .jws.sig or .cose.sig (it names the envelope format)'
    );
  const doc =
    typeof options.trustPolicy === 'object'
      ? options.trustPolicy
      : await loadTrustPolicyFile(options.trustPolicy ?? join(signetHome(), 'trustpolicy.blob.json'), 'blob');
  const statement = selectBlobPolicy(doc, options.policyName);
  const envelope = await readFileBounded(signaturePath, MAX_ENVELOPE_SIZE, `signature file ${signaturePath}`);
  await stat(file);
  // The blob is hashed with the algorithm the signing key implies, never the one the payload claims.
  let claimed: Descriptor;
  let nodeHash: ArtifactDigestAlgorithm = 'sha256';
  try {
    const c = parseEnvelope(envelope, mediaType);
    claimed = c.targetArtifact;
    nodeHash = signatureAlgorithmFor(c.signerInfo.certificateChain[0]!).nodeHash;
  } catch {
    claimed = { mediaType: 'application/octet-stream', digest: `sha256:${'0'.repeat(64)}`, size: 0 };
  }
  const { digest, size } = await digestFile(file, nodeHash);
  const subject: Descriptor = { mediaType: options.mediaType ?? claimed.mediaType, digest, size };
  const name = `blob-trust-policy:${statement.name}`;
  const v = await verifyNotarySignature({
    candidate: { family: 'notary', digest: digestOf(envelope), source: signaturePath, envelope, mediaType },
    subject,
    statement,
    trustStore: new TrustStore(options.trustStore),
    options: {
      ...(options.userMetadata ? { userMetadata: options.userMetadata } : {}),
      ...(options.now ? { now: options.now } : {}),
    },
    requirement: name,
  });
  const sigDigest = digestOf(envelope);
  const report: VerificationReport = {
    version: REPORT_VERSION,
    reference: file,
    digest,
    mediaType: subject.mediaType,
    size,
    verdict: 'failed',
    checks: [],
    signatures: [
      {
        family: 'notary',
        digest: sigDigest,
        source: signaturePath,
        mediaType,
        verdict: v.verdict,
        checks: v.checks,
        ...(v.signer ? { signer: v.signer } : {}),
        ...(v.keyId ? { keyId: v.keyId } : {}),
        ...(v.signingTime ? { signingTime: v.signingTime } : {}),
      },
    ],
    requirements: [
      {
        name,
        satisfied: v.verdict === 'verified',
        by: v.verdict === 'verified' ? [sigDigest] : [],
        checks: [
          check(
            'policy',
            statement.level === 'skip' ? 'skipped' : 'pass',
            `statement "${statement.name}", level ${statement.level}`
          ),
        ],
      },
    ],
  };
  report.verdict = v.verdict === 'inconclusive' ? 'inconclusive' : overallVerdict(report);
  return report;
}

/**
 * Verifies a Sigstore bundle for a file, or for a digest alone (`sha256:<hex>`: DSSE bundles;
 * a message signature needs the bytes), under the same Sigstore requirement as `signet verify`
 * (`--key`, `--certificate-identity…`, `--trusted-root`), into the same report.
 */
export async function verifySigstoreBlob(
  fileOrDigest: string,
  bundlePath: string,
  sigstore: NonNullable<RequirementSources['sigstore']>
): Promise<VerificationReport> {
  if (!sigstore.keys?.length && !sigstore.identities?.length)
    throw new SignetError('USAGE', 'a bundle is verified with --key or --certificate-identity[-regexp] and an issuer');
  const req = await sigstoreRequirement(sigstore);
  const bundle = await readFileBounded(bundlePath, MAX_SMALL_SIGNATURE, `bundle file ${bundlePath}`);
  let digest: string;
  let size = 0;
  let artifact: Uint8Array | undefined;
  if (/^sha256:[0-9a-f]{64}$/.test(fileOrDigest)) digest = fileOrDigest;
  else {
    artifact = await readFile(fileOrDigest);
    digest = digestOf(artifact);
    size = artifact.length;
  }
  const v = verifySigstoreBundle({
    bundle,
    digest,
    ...(artifact ? { artifact } : {}),
    policy: req.policy,
    requirement: req.name,
  });
  const sigDigest = digestOf(bundle);
  const report: VerificationReport = {
    version: REPORT_VERSION,
    reference: fileOrDigest,
    digest,
    mediaType: 'application/octet-stream',
    size,
    verdict: 'failed',
    checks: [],
    signatures: [
      {
        family: 'sigstore',
        digest: sigDigest,
        source: bundlePath,
        verdict: v.verdict,
        checks: v.checks,
        ...(v.signer ? { signer: v.signer } : {}),
        ...(v.keyId ? { keyId: v.keyId } : {}),
      },
    ],
    requirements: [
      {
        name: req.name,
        satisfied: v.verdict === 'verified',
        by: v.verdict === 'verified' ? [sigDigest] : [],
        checks: [],
      },
    ],
  };
  report.verdict = overallVerdict(report);
  return report;
}
