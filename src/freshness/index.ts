export { FreshnessState } from './state.ts';
export { TagState } from './tags.ts';
export type { TagMark, TagJudgement } from './tags.ts';
export { SignerState } from './signer.ts';
export type { SignerMark } from './signer.ts';
export { stateHome } from './home.ts';
export { withLock } from './lock.ts';
export * from './tuf/index.ts';
