export { TrustStore, STORE_TYPES } from './truststore.ts';
export type { StoreType } from './truststore.ts';
export {
  loadTrustPolicy,
  loadBlobTrustPolicy,
  loadTrustPolicyFile,
  selectPolicy,
  selectStatement,
  selectBlobPolicy,
  mappedName,
  LAYOUT_SCOPE_PREFIX,
  LEVELS,
  CHECKS,
} from './policy.ts';
export type {
  TrustPolicyDocument,
  TrustPolicyStatement,
  TrustPolicySigstore,
  PolicySubject,
  CheckType,
  Action,
  LevelName,
} from './policy.ts';
export { verifySignature } from './verifier.ts';
export type { ValidationResult, VerificationOutcome, VerifyOptions, RevocationStatus, ResultType } from './verifier.ts';
export { verifyEnvelope } from './verify-envelope.ts';
export type { VerifyEnvelopeInput, VerifyEnvelopeResult } from './verify-envelope.ts';
export { parseDistinguishedName, identityMatches, subjectAttributes } from './identity.ts';
export {
  loadContainersPolicy,
  requirementsFor,
  identityMatches as containersIdentityMatches,
} from './containers-policy.ts';
export type { ContainersPolicy, Requirement, SignedIdentity, SigstoreKeyless } from './containers-policy.ts';
export { writeTrustPolicyStatement, importTrustPolicy, readTrustPolicyText, trustPolicyPath } from './policy-file.ts';
