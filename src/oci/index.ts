export { OciError, isNotFound } from './errors.ts';
export type { OciErrorCode } from './errors.ts';
export {
  MediaType,
  EMPTY_JSON,
  MANIFEST_ACCEPT,
  isManifestMediaType,
  isIndexMediaType,
  isValidMediaType,
} from './mediatype.ts';
export { parseDigest, isValidDigest, digestOf, digestFile, Digester, VerifyingStream, verifyBytes } from './digest.ts';
export type { DigestAlgorithm, ArtifactDigestAlgorithm, ParsedDigest } from './digest.ts';
export {
  MAX_MANIFEST_SIZE,
  parseDescriptor,
  parseManifest,
  parseVerifiedManifest,
  isImageIndex,
  successors,
  artifactTypeOf,
  encodeManifest,
  descriptorFor,
  referrerDescriptor,
  plainDescriptor,
  descriptorSchema,
  imageManifestSchema,
  imageIndexSchema,
} from './manifest.ts';
export type { Descriptor, Platform, ImageManifest, ImageIndex, Manifest } from './manifest.ts';
export {
  parseReference,
  parseRegistryReference,
  parseLayoutReference,
  formatReference,
  withDigest,
  isValidRepositoryName,
  isValidTag,
  validateRepositoryName,
  validateTag,
  REPO_NAME_RE,
  TAG_RE,
  DOCKER_HUB,
} from './reference.ts';
export type { Reference, RegistryReference, LayoutReference } from './reference.ts';
