export { describeBundle, isSigstoreBundleType } from './describe.ts';
export type { BundleSummary } from './describe.ts';
