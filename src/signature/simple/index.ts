export {
  SIMPLE_SIGNING_TYPE,
  SIMPLE_SIGNATURE_ARTIFACT_TYPE,
  SIMPLE_SIGNATURE_MEDIA_TYPE,
  parseSimplePayload,
  verifyOpenPgpMessage,
} from './simple.ts';
export type { SimplePayload } from './simple.ts';
export { loadRegistriesD, lookasideFor, lookasideUrl, readLookaside } from './lookaside.ts';
export type { RegistriesD } from './lookaside.ts';
export { buildSimplePayload, signOpenPgp, writeLookaside } from './sign.ts';
