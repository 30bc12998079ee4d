export { startRegistry } from './registry.ts';
export type { RegistryOptions, RunningRegistry } from './registry.ts';
export { fsck } from './fsck.ts';
export type { FsckReport } from './fsck.ts';
export { RegistryStorage } from './storage.ts';
export { DEFAULT_LIMITS } from './routes.ts';
export type { Limits } from './routes.ts';
export type { Authorizer, Access, AuthResult } from './auth/types.ts';
