export type { Target, FetchOptions } from './target.ts';
export { fetchAll, fetchManifest, readAll, toStream } from './content.ts';
export { MemoryTarget } from './memory.ts';
