export { verifyArtifact } from './engine.ts';
export type { VerifyArtifactOptions, ResolvedArtifact } from './engine.ts';
export type { Requirement } from './requirements/types.ts';
export { CHECK_NAMES, REPORT_VERSION, failureSummary } from './report.ts';
export type {
  Check,
  CheckName,
  CheckOutcome,
  Family,
  RequirementReport,
  SignatureReport,
  VerificationReport,
  Verdict,
} from './report.ts';
export { loadRequirements } from './load.ts';
export type { RequirementSources } from './load.ts';
export { formatReport } from './format.ts';
export { verify, verifyArtifacts, revocationSetup, DEFAULT_CONCURRENCY } from './batch.ts';
export type { VerifyArtifactsOptions } from './batch.ts';
export { verifyBlob, verifySigstoreBlob } from './blob.ts';
// Decoding without judging, for the registry's web view (the server reaches signatures only through verify/).
export { VerdictCache } from './cache.ts';
export type { VerdictKey } from './cache.ts';
export { createVerifier } from './verifier.ts';
export type { Verifier, VerifierOptions, VerifierStats } from './verifier.ts';
