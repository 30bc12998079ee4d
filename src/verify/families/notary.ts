import { createHash, type X509Certificate } from 'node:crypto';
import type { Descriptor } from '../../oci/index.ts';
import {
  verifySignature,
  type TrustPolicyStatement,
  type TrustStore,
  type ValidationResult,
  type VerifyOptions,
} from '../../trust/index.ts';
import { SignetError } from '../../util/index.ts';
import type { NotaryCandidate } from '../discover.ts';
import { check, verdictOf, type Check, type CheckName, type Verdict } from '../report.ts';

const NAMES: Record<ValidationResult['type'], CheckName> = {
  integrity: 'integrity',
  authenticity: 'authenticity',
  authenticTimestamp: 'authentic-timestamp',
  expiry: 'expiry',
  revocation: 'revocation',
  payload: 'subject',
  userMetadata: 'user-metadata',
  policy: 'policy',
};

const keyIds = new WeakMap<X509Certificate, string>();

/** SHA-256 of a certificate's SubjectPublicKeyInfo: what makes two signing keys distinct. */
function keyIdOf(cert: X509Certificate): string {
  // Once per certificate object (every signature of one signer shares it): exporting the key is
  // a tenth of a millisecond, on every envelope otherwise.
  let id = keyIds.get(cert);
  if (id === undefined) {
    id = `sha256:${createHash('sha256')
      .update(cert.publicKey.export({ type: 'spki', format: 'der' }))
      .digest('hex')}`;
    keyIds.set(cert, id);
  }
  return id;
}

export interface NotaryVerdict {
  verdict: Verdict;
  checks: Check[];
  /** The leaf certificate once the envelope was read. */
  leaf?: X509Certificate;
  /** SHA-256 of the leaf's SubjectPublicKeyInfo, once the envelope was read. */
  keyId?: string;
  signer?: string;
  signingTime?: string;
  /** Whether authenticity was checked and passed (not merely logged): what thresholds count. */
  authentic: boolean;
  /** For a verified signature: when its verdict may change (expiry, notAfter, revocation nextUpdate). */
  validUntil?: string;
  /** The signed payload's `targetArtifact.annotations` (user metadata, Layer A's name binding). */
  annotations?: Record<string, string>;
}

function toCheck(r: ValidationResult, requirement: string): Check {
  const outcome = r.ok
    ? r.action === 'skip'
      ? 'skipped'
      : 'pass'
    : r.action === 'enforce'
      ? 'fail'
      : r.action === 'log'
        ? 'logged'
        : 'skipped';
  return check(NAMES[r.type], outcome, r.message, requirement);
}

/**
 * A Notary Project signature (JWS or COSE) under one trust policy statement: the checks of
 * notary-spec §12 in order, as the statement's level enforces, logs or skips them.
 */
export async function verifyNotarySignature(args: {
  candidate: NotaryCandidate;
  subject: Descriptor;
  statement: TrustPolicyStatement;
  trustStore: TrustStore;
  options: VerifyOptions;
  requirement: string;
}): Promise<NotaryVerdict> {
  const { candidate: c, requirement } = args;
  if (!c.envelope || !c.mediaType) {
    const checks = [check('integrity', 'fail', c.unreadable ?? 'no envelope', requirement)];
    return { verdict: 'failed', checks, authentic: false };
  }
  let outcome;
  try {
    outcome = await verifySignature({
      envelope: c.envelope,
      mediaType: c.mediaType,
      subject: args.subject,
      statement: args.statement,
      trustStore: args.trustStore,
      options: args.options,
    });
  } catch (err) {
    // An enforced check that could not be decided (a revocation responder down) is inconclusive.
    if (err instanceof SignetError && err.kind === 'inconclusive') {
      const checks = [check('revocation', 'inconclusive', err.message, requirement)];
      return { verdict: 'inconclusive', checks, authentic: false };
    }
    throw err;
  }
  const checks = outcome.results.map((r) => toCheck(r, requirement));
  const out: NotaryVerdict = {
    verdict: outcome.verified ? verdictOf(checks) : 'failed',
    checks,
    authentic: checks.some((x) => x.name === 'authenticity' && x.outcome === 'pass'),
  };
  if (outcome.content) {
    const leaf = outcome.content.signerInfo.certificateChain[0]!;
    out.leaf = leaf;
    out.keyId = keyIdOf(leaf);
    out.signer = leaf.subject.split('\n').reverse().join(', ');
    const t = outcome.content.signerInfo.signingTime ?? outcome.content.signerInfo.authenticSigningTime;
    if (t) out.signingTime = t.toISOString();
    if (outcome.content.targetArtifact.annotations) out.annotations = outcome.content.targetArtifact.annotations;
  }
  if (outcome.validUntil) out.validUntil = outcome.validUntil.toISOString();
  return out;
}
