/**
 * The one report every verification produces, for text and JSON alike (docs/trust-policy.md
 * documents it with an example). Families and requirements only ever add named checks to it; the
 * verdicts are computed here, from the checks, in one place.
 */

/**
 * The check catalog. Every check any family or requirement reports has one of these names, so a
 * consumer can switch on them; later families extend the list.
 */
export const CHECK_NAMES = [
  'integrity',
  'authenticity',
  'authentic-timestamp',
  'expiry',
  'revocation',
  'subject',
  'user-metadata',
  'certificate-identity',
  'name-binding',
  'threshold',
  'rollback',
  'freshness',
  'transparency-log',
  'certificate-chain',
  'sct',
  'predicate-type',
  'policy',
] as const;
export type CheckName = (typeof CHECK_NAMES)[number];

/**
 * `pass`/`fail` as measured; `logged`: failed, but the policy level only logs it; `skipped`: the
 * level skips it; `inconclusive`: it could not be decided (a responder down, a network error).
 */
export type CheckOutcome = 'pass' | 'fail' | 'inconclusive' | 'logged' | 'skipped';

export interface Check {
  name: CheckName;
  outcome: CheckOutcome;
  reason?: string;
  /** The requirement this check was made for, when a signature is judged by more than one. */
  requirement?: string;
}

export type Verdict = 'verified' | 'failed' | 'inconclusive';

/** A signature family Signet verifies. */
export type Family = 'notary' | 'cosign' | 'simple' | 'layout' | 'sigstore';

export interface SignatureReport {
  family: Family;
  /** The digest naming the signature: its manifest, its layer, or its bytes (lookaside). */
  digest: string;
  /** Where it was found: `referrers`, `tag <name>`, `lookaside signature-<n>`, `index.json <ref>`. */
  source: string;
  /** The envelope's media type (Notary Project: `application/jose+json` or `application/cose`). */
  mediaType?: string;
  /** The signer as the signature shows it once authentic: a certificate subject, a key fingerprint. */
  signer?: string;
  /** SHA-256 of the signing key's SubjectPublicKeyInfo (or the OpenPGP fingerprint): what thresholds count. */
  keyId?: string;
  signingTime?: string;
  /** The earliest moment this signature's verdict may change (expiry, certificate notAfter, revocation nextUpdate). */
  validUntil?: string;
  /** `unevaluated`: found, but no configured requirement covers its family. */
  verdict: Verdict | 'unevaluated';
  checks: Check[];
}

export interface RequirementReport {
  /** e.g. `trust-policy:prod`, `containers-policy:docker.io/library (signedBy)`, `cosign-key`, `layout-key`. */
  name: string;
  satisfied: boolean;
  /** Digests of the signatures that satisfied it. */
  by: string[];
  checks: Check[];
}

export interface VerificationReport {
  version: 1;
  /** The artifact pinned by digest (`registry/repo@sha256:…`, `oci:path@sha256:…`). */
  reference: string;
  digest: string;
  mediaType: string;
  size: number;
  verdict: Verdict;
  /** Checks about the artifact as a whole (a covering index, reject-everything policies). */
  checks: Check[];
  signatures: SignatureReport[];
  requirements: RequirementReport[];
  /**
   * The earliest moment any signature's verdict may change: a cached verdict must not outlive it.
   * Absent when nothing found has an end (key-based signatures without expiry).
   */
  validUntil?: string;
}

export const REPORT_VERSION = 1 as const;

export function check(name: CheckName, outcome: CheckOutcome, reason?: string, requirement?: string): Check {
  const c: Check = { name, outcome };
  if (reason !== undefined) c.reason = reason;
  if (requirement !== undefined) c.requirement = requirement;
  return c;
}

/** A set of checks fails on any `fail`, is inconclusive on any `inconclusive`, else verifies. */
export function verdictOf(checks: readonly Check[]): Verdict {
  if (checks.some((c) => c.outcome === 'fail')) return 'failed';
  if (checks.some((c) => c.outcome === 'inconclusive')) return 'inconclusive';
  return 'verified';
}

/**
 * The artifact's verdict (the documented combination rule): every requirement must be satisfied,
 * and no artifact-level check may fail. No requirement at all is a failure, never a pass. A
 * requirement left unsatisfied only because something could not be decided is inconclusive.
 */
export function overallVerdict(report: Pick<VerificationReport, 'checks' | 'requirements'>): Verdict {
  const own = verdictOf(report.checks);
  if (own === 'failed' || report.requirements.length === 0) return 'failed';
  let inconclusive = own === 'inconclusive';
  for (const r of report.requirements) {
    if (r.satisfied) continue;
    if (verdictOf(r.checks) === 'inconclusive') inconclusive = true;
    else return 'failed';
  }
  return inconclusive ? 'inconclusive' : 'verified';
}

/**
 * The failed check that explains a report's verdict, as `name: reason` — what a registry puts in
 * its 403 and a one-line log shows. Artifact-level checks first, then the unmet requirement's own
 * checks (a threshold), then the first failing check of each signature; undefined when verified.
 */
export function failureSummary(report: VerificationReport): string | undefined {
  if (report.verdict === 'verified') return undefined;
  const bad = (c: Check): boolean => c.outcome === 'fail' || c.outcome === 'inconclusive';
  const say = (c: Check): string => `${c.name}: ${c.reason ?? (c.outcome === 'fail' ? 'failed' : 'inconclusive')}`;
  const own = report.checks.find(bad);
  if (own) return say(own);
  const fromSignatures: string[] = [];
  for (const s of report.signatures) {
    const c = s.checks.find(bad);
    if (c && !fromSignatures.includes(say(c))) fromSignatures.push(say(c));
  }
  if (fromSignatures.length) return fromSignatures.slice(0, 3).join('; ');
  for (const r of report.requirements) {
    if (r.satisfied) continue;
    const c = r.checks.find(bad);
    if (c) return say(c);
  }
  if (report.signatures.length === 0) return `no signature of ${report.digest} was found`;
  return 'no requirement is satisfied';
}
