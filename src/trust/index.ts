export { TrustStore, STORE_TYPES } from './truststore.ts';
export type { StoreType } from './truststore.ts';
export { loadTrustPolicy, loadBlobTrustPolicy, loadTrustPolicyFile, selectPolicy, selectBlobPolicy, LEVELS, CHECKS } from './policy.ts';
export type { TrustPolicyDocument, TrustPolicyStatement, CheckType, Action, LevelName } from './policy.ts';
export { verifySignature } from './verifier.ts';
export type { ValidationResult, VerificationOutcome, VerifyOptions, RevocationStatus, ResultType } from './verifier.ts';
export { verifyEnvelope } from './verify-envelope.ts';
export type { VerifyEnvelopeInput, VerifyEnvelopeResult } from './verify-envelope.ts';
export { parseDistinguishedName, identityMatches, subjectAttributes } from './identity.ts';
