export {
  COSIGN_PAYLOAD_MEDIA_TYPE,
  COSIGN_SIGNATURE_ANNOTATION,
  COSIGN_PAYLOAD_TYPE,
  COSIGN_REFERRER_ARTIFACT_TYPE,
  cosignSignatureTag,
  buildCosignPayload,
  parseCosignPayload,
  cosignSign,
  cosignVerify,
  parseCosignPublicKey,
  appendCosignLayer,
} from './cosign.ts';
export type { CosignPayload } from './cosign.ts';
