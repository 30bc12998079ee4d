export { SignetError, hasCode, exitCodeFor } from './errors.ts';
export { ERROR_CATALOG } from './errors.ts';
export type { ErrorKind, ErrorCode } from './errors.ts';
export type { Logger } from './logger.ts';
export { silentLogger } from './logger.ts';
export { signetHome, defaultTrustPolicyPath } from './home.ts';
export { Limiter } from './limiter.ts';
export {
  writeFileAtomic,
  commitFile,
  tempPathFor,
  fsyncPath,
  fsyncDir,
  isTempName,
  TEMP_PREFIX,
} from './atomic-write.ts';
export type { WriteAtomicOptions, CommitOptions } from './atomic-write.ts';
export { SIGNET_VERSION, readPackageVersion } from './version.ts';
export { isValidDate } from './time.ts';
export { readBodyBounded } from './http-body.ts';
export { MAX_CONFIG_FILE_SIZE, readFileBounded } from './file-bounded.ts';
export type { BodySource, ReadBoundedOptions } from './http-body.ts';
export { parseDuration } from './duration.ts';
export { anchoredRegExp } from './anchored-regexp.ts';
