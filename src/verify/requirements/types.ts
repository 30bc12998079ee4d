import type { KeyObject } from 'node:crypto';
import type { FreshnessState, TagState } from '../../freshness/index.ts';
import type { ContainersPolicy, TrustPolicyDocument, TrustStore, VerifyOptions } from '../../trust/index.ts';
import type { Candidate, ResolvedSubject } from '../discover.ts';
import type { SigstorePolicy } from '../families/sigstore.ts';
import type { Check, RequirementReport, Verdict } from '../report.ts';

/**
 * What an artifact must satisfy. Every configured requirement must be satisfied (a `reject`
 * anywhere rejects); the report says which signatures satisfied which requirement.
 */
export type Requirement =
  /** The Notary Project trust policy (with Signet's `signatureThreshold`/`requiredIdentities`). */
  | { kind: 'trust-policy'; document: TrustPolicyDocument; trustStore: TrustStore }
  /** A containers policy.json: simple signing (`signedBy`) and cosign (`sigstoreSigned`). */
  | { kind: 'containers-policy'; policy: ContainersPolicy }
  /** cosign key-based signatures by one of these keys (`--cosign-key`); identity: the repository by default. */
  | { kind: 'cosign-key'; keys: KeyObject[]; identity?: string | false }
  /** A statically signed layout entry by one of these OpenPGP keys (`--layout-key`), never older than last time. */
  | { kind: 'layout-key'; keys: Uint8Array[]; state?: FreshnessState }
  /** Sigstore bundles by one of these keys or keyless identities (`--key`, `--certificate-identity…`, a `sigstore` statement). */
  | { kind: 'sigstore'; name: string; policy: SigstorePolicy };

/** What every requirement evaluator is handed: the artifact resolved once, and every signature found. */
export interface EvaluationContext {
  subject: ResolvedSubject;
  candidates: Candidate[];
  /** The repository a layout is verified as (`--scope`), for policies written for registries. */
  scope?: string;
  /** Layer A: the logical name the artifact is verified as (`--name`), over the policy's `names`. */
  name?: string;
  /** Layer A: accept a tag that went backwards (the mark is not lowered). */
  allowDowngrade?: boolean;
  /** Layer A: the tag high-water marks (default `$SIGNET_HOME/state/tags`). */
  tagState?: TagState;
  /** Runs once the whole verification passed (state that may only move on success); absent: nothing is recorded. */
  onVerified?(commit: () => Promise<void>): void;
  verifyOptions: VerifyOptions;
  /** `--offline`: no network; Layer B applies the statement's `freshness.offlineGrace`. */
  offline?: boolean;
  /** Sigstore bundles in another repository (a statement's `sigstore.repository`): its referrers of this digest. */
  candidatesIn(repository: string): Promise<Candidate[]>;
  /** Files one family's judgement of one signature into the report. */
  record(candidate: Candidate, result: SignatureJudgement): void;
}

export interface SignatureJudgement {
  verdict: Verdict;
  checks: Check[];
  signer?: string;
  keyId?: string;
  signingTime?: string;
  /** When this judgement may change (a signature expiry, a certificate notAfter, a revocation nextUpdate). */
  validUntil?: string;
}

export type Evaluator<R extends Requirement = Requirement> = (
  requirement: R,
  ctx: EvaluationContext
) => Promise<RequirementReport[]>;
