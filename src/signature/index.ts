export * from './notary/index.ts';
export * from './cosign/index.ts';
