export { SignetError, hasCode, exitCodeFor } from './errors.ts';
export type { ErrorKind } from './errors.ts';
export type { Logger } from './logger.ts';
export { silentLogger } from './logger.ts';
export { signetHome } from './home.ts';
export { Limiter } from './limiter.ts';
