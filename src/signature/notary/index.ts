export * from './types.ts';
export {
  parseEnvelope,
  verifyEnvelopeIntegrity,
  signEnvelope,
  signPayload,
  LocalKeySigner,
  MAX_ENVELOPE_SIZE,
  SIGNING_AGENT,
} from './envelope.ts';
export type { ParseOptions } from './envelope.ts';
export { buildPayload, parseTargetArtifact, goJson } from './payload.ts';
export { signatureManifest, isNotarySignatureManifest } from './manifest.ts';
