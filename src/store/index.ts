export type {
  Target,
  ReadableTarget,
  ReadStore,
  ReferrerLister,
  Pusher,
  Tagger,
  Deleter,
  Mounter,
  LayoutIndexReader,
  FetchOptions,
  TagOptions,
} from './target.ts';
export { isWritable, requireWritable, hasLayoutIndex } from './target.ts';
export { fetchAll, fetchManifest, readAll, toStream } from './content.ts';
export { MemoryTarget } from './memory.ts';
export {
  RegistryTarget,
  RegistryClient,
  RegistryClientPool,
  referrersTag,
  servedManifestDigest,
  defaultPlainHttp,
  login,
  logout,
} from './registry/index.ts';
export type { RegistryTargetOptions } from './registry/index.ts';
export { openLayout, LayoutTarget, TarLayoutTarget, HttpLayoutTarget, REF_NAME } from './layout/index.ts';
export { dockerCredentials, staticCredentials, storeDockerCredentials, dockerConfigPath } from './credentials/index.ts';
export type { Credentials, CredentialProvider } from './credentials/index.ts';
export { openTarget, resolveOpened } from './open.ts';
export type { OpenOptions, OpenedTarget } from './open.ts';
