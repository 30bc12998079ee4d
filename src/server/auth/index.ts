export { createAuthorizer, dummyHashFor, TokenAuthorizer } from './authorizer.ts';
export { parseAuthConfig, parseHtpasswd, loadAuthConfig, grantedActions } from './config.ts';
export type { AuthConfig, AccessRule, Action } from './config.ts';
export type { Access, AuthResult, Authorizer } from './types.ts';
