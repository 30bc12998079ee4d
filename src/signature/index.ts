export * from './notary/index.ts';
export * from './cosign/index.ts';
export * from './simple/index.ts';
export * from './flatpak/index.ts';
export * from './sigstore/index.ts';
