export { copyGraph, copy } from './copy.ts';
export type { CopyEvent, CopyOptions, CopyReport } from './copy.ts';
export { discover } from './discover.ts';
export type { ReferrerNode } from './discover.ts';
