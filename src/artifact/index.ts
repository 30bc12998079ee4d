export { push, TITLE_ANNOTATION } from './push.ts';
export type { PushOptions } from './push.ts';
export { pull } from './pull.ts';
export { discoverReference } from './discover.ts';
export { inspect } from './inspect.ts';
export type { SignatureInfo, OtherSignatureInfo } from './inspect.ts';
export { copyArtifact } from './copy.ts';
export type { CopyArtifactOptions, CopyArtifactReport } from './copy.ts';
