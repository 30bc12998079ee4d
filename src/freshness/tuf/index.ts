export { refreshTuf, targetPath, parseRootPin, tufStateDir, DEFAULT_TUF_CAPS } from './client.ts';
export type { RefreshOptions, TrustedTuf, TufCaps } from './client.ts';
export {
  TUF_METADATA_MEDIA_TYPE,
  TUF_BUNDLE_ARTIFACT_TYPE,
  TUF_FILENAME_ANNOTATION,
  writeBundle,
  readBundleIndex,
} from './bundle.ts';
export { tufKey, tufSigner } from './keys.ts';
export { tufInit, tufPublish, tufRemove, tufTimestamp, tufStatus, readTufConfig, TUF_ROLES } from './repository.ts';
export type {
  TufRepoConfig,
  TufRepoOptions,
  TufInitOptions,
  TufWriteResult,
  TufStatus,
  TufRole,
  RoleSigning,
} from './repository.ts';
