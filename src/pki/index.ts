export {
  signatureAlgorithmFor,
  algorithmInfo,
  algorithmByJws,
  algorithmByCose,
  algorithmByKeySpec,
  signPrimitive,
  verifyPrimitive,
  ecdsaP1363ToDer,
} from './algorithms.ts';
export type { SignatureAlgorithm, HashName, AlgorithmInfo } from './algorithms.ts';
export { validateCodeSigningChain, validateTimestampingChain, chainValidAt } from './chain.ts';
export { certInfo, certificateFromDer, describeCert, issuedBy, parseCertificates, toPem, OID } from './x509.ts';
export type { CertInfo } from './x509.ts';
export { generateKeyPair, createCertificate, parseDn, KEY_TYPES } from './create.ts';
export type { KeyType, CertificateRequest } from './create.ts';
export { KeyStore } from './keystore.ts';
export type { StoredKey, KeySummary, GpgKeyType, KeyDescription } from './keystore.ts';
export { requestTimestamp, verifyTimestampToken } from './tsp.ts';
export type { TimestampInfo } from './tsp.ts';
export { checkRevocation, revocationUrls } from './revocation.ts';
export type { RevocationResult, RevocationState, RevocationOptions, RevocationCache } from './revocation.ts';
export { FileRevocationCache, MemoryRevocationCache, defaultRevocationCacheDir } from './revocation-cache.ts';
