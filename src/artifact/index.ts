export { push, TITLE_ANNOTATION } from './push.ts';
export type { PushOptions } from './push.ts';
export { pull } from './pull.ts';
export { discoverReference } from './discover.ts';
