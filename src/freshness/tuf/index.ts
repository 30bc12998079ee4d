export { refreshTuf, targetPath, parseRootPin, tufStateDir, DEFAULT_TUF_CAPS } from './client.ts';
export type { RefreshOptions, TrustedTuf, TufCaps } from './client.ts';
export {
  TUF_METADATA_MEDIA_TYPE,
  TUF_BUNDLE_ARTIFACT_TYPE,
  TUF_FILENAME_ANNOTATION,
  writeBundle,
  readBundleIndex,
} from './bundle.ts';
export { tufKey, tufSigner, pluginTufSigner } from './keys.ts';
export { signWith } from './writer.ts';
export {
  tufInit,
  tufPublish,
  tufRemove,
  tufTimestamp,
  tufStatus,
  tufTrust,
  certificateTargetPath,
} from './repository.ts';
export type { TufInitOptions, TufPublishOptions, TufStatus, TufTrustResult } from './repository.ts';
export { tufRotate, tufDelegate } from './roles.ts';
export type { TufRotateOptions, TufDelegateOptions } from './roles.ts';
export { readTufConfig, TUF_ROLES } from './config.ts';
export type { TufRepoConfig, TufRole, TufDelegation } from './config.ts';
export type { TufRepoOptions, TufWriteResult, RoleSigning } from './writer.ts';
