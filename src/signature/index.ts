export * from './notary/index.ts';
