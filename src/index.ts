/**
 * Signet: sign OCI artifacts, store the signatures beside them, move both, verify them under a
 * trust policy. The CLI is a thin shell over exactly these functions.
 *
 * @packageDocumentation
 */
import { openTarget as open, type OpenOptions, type OpenedTarget } from './store/index.ts';
import { loadTrustPolicy as load, type TrustPolicyDocument } from './trust/index.ts';

export { sign, signArtifact } from './sign.ts';
export type { SignOptions, SignResult } from './sign.ts';
export { verify, listSignatures } from './verify.ts';
export type { VerifyRefOptions, ArtifactVerification, SignatureReport } from './verify.ts';
export { inspect } from './inspect.ts';
export { signBlob, verifyBlob } from './blob.ts';
export { verifyEnvelope, verifySignature, TrustStore, loadBlobTrustPolicy, selectPolicy } from './trust/index.ts';
export type { VerifyEnvelopeInput, VerifyEnvelopeResult, ValidationResult, VerificationOutcome, TrustPolicyDocument } from './trust/index.ts';
export { copy, copyGraph, discover } from './copy/index.ts';
export type { CopyOptions, CopyReport, ReferrerNode } from './copy/index.ts';
export { MemoryTarget, RegistryTarget, LayoutTarget, TarLayoutTarget, HttpLayoutTarget, openLayout, login, logout } from './store/index.ts';
export type { Target, OpenOptions, OpenedTarget } from './store/index.ts';
export { KeyStore, createCertificate, generateKeyPair } from './pki/index.ts';
export { signEnvelope, verifyEnvelopeIntegrity, parseEnvelope, LocalKeySigner } from './signature/index.ts';
export type { PrimitiveSigner, EnvelopeContent } from './signature/index.ts';
export { startRegistry, fsck } from './server/index.ts';
export { parseReference, MediaType } from './oci/index.ts';
export type { Descriptor, Reference } from './oci/index.ts';
export { SignetError, exitCodeFor } from './util/index.ts';

/** Opens the target a reference names (registry repository or OCI layout). */
export function openTarget(ref: string, options?: OpenOptions): Promise<OpenedTarget> {
  return open(ref, options);
}

/** Parses and validates a trust policy document (JSON text or parsed object); throws a coded error naming the broken rule. */
export function loadTrustPolicy(json: unknown): TrustPolicyDocument {
  return load(json);
}
export { signCosign, verifyCosign } from './cosign.ts';
export { verifyContainersPolicy, signSimple } from './containers.ts';
export { signLayout, verifyLayout } from './layout-signing.ts';
