export {
  FLATPAK_SIGNATURE_ANNOTATION,
  LAYOUT_SIGNATURE_MEDIA_TYPE,
  LAYOUT_STATEMENT_TYPE,
  buildLayoutStatement,
  parseLayoutStatement,
} from './layout-signature.ts';
export type { LayoutStatement } from './layout-signature.ts';
