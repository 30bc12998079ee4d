export { RegistryTarget, referrersTag, servedManifestDigest } from './target.ts';
export type { RegistryTargetOptions } from './target.ts';
export { RegistryClient, defaultPlainHttp, parseChallenge } from './client.ts';
export type { ClientOptions } from './client.ts';
export { login, logout } from './login.ts';
export { RegistryClientPool } from './pool.ts';
