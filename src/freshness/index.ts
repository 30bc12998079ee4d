export { FreshnessState } from './state.ts';
