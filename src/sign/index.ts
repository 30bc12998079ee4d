export { attachReferrer, pushManifest } from './attach.ts';
export type { Blob } from './attach.ts';
export { sign, signArtifact } from './notary.ts';
export type { SignOptions, SignResult } from './notary.ts';
export { signCosign, cosignIdentity } from './cosign.ts';
export { signSimple, attachSimpleSignature, carrySimpleSignatures } from './simple.ts';
export { signLayout } from './layout.ts';
export { signBlob } from './blob.ts';
export {
  attachSigstoreBundle,
  cosignStatement,
  keyBundle,
  keylessBundle,
  loadSigningKey,
  signBlobBundle,
  signSigstoreBundle,
  COSIGN_SIGN_PREDICATE,
  SIGSTORE_BUNDLE_V03,
} from './sigstore.ts';
export type { SigstoreKeyless, SigstoreSigner } from './sigstore.ts';
