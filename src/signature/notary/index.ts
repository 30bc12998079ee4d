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
export {
  NAME_ANNOTATION,
  TAG_ANNOTATION,
  SEQ_ANNOTATION,
  ISSUED_ANNOTATION,
  BINDING_PREFIX,
  parseSeq,
  readBinding,
  bindingAnnotations,
} from './binding.ts';
export type { NameBinding } from './binding.ts';
