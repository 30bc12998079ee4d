export { describeBundle, isSigstoreBundleType, leafCertificateDer } from './describe.ts';
export type { BundleSummary } from './describe.ts';
export {
  COSIGN_BUNDLE_ANNOTATION,
  COSIGN_CERTIFICATE_ANNOTATION,
  COSIGN_CHAIN_ANNOTATION,
  DSSE_ENVELOPE_MEDIA_TYPE,
  cosignAttestationTag,
  legacyAttestationBundle,
} from './legacy.ts';
