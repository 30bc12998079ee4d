export * from './notary/index.ts';
export * from './cosign/index.ts';
export * from './simple/index.ts';
