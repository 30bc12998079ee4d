export {
  copyGraph,
  copy,
  copyTargets,
  checkCopyReferences,
  carryTuf,
  checkTufReference,
  CARRIED_TUF_TAG,
} from './copy.ts';
export type { CopyEvent, CopyOptions, CopyReport, CopyRefOptions, CopyPlan } from './copy.ts';
export { discover } from './discover.ts';
export type { ReferrerNode } from './discover.ts';
export { carryTrustedRoot, SIGSTORE_TRUSTED_ROOT_TAG, SIGSTORE_TRUSTED_ROOT_TYPE } from './trusted-root.ts';
