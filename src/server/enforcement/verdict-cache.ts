// The verdict cache lives in verify/ (the library's createVerifier uses it too); the server
// reaches it, as everything of the trust engine, through verify/index.ts.
export { VerdictCache } from '../../verify/index.ts';
export type { VerdictKey } from '../../verify/index.ts';
