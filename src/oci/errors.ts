import { SignetError } from '../util/index.ts';

/**
 * Codes of OCI-level errors. The distribution-spec codes (BLOB_UNKNOWN ...) are used as they are
 * so that a registry error and a local one read the same.
 */
export type OciErrorCode =
  | 'READ_ONLY'
  | 'DIGEST_INVALID'
  | 'SIZE_INVALID'
  | 'NAME_INVALID'
  | 'TAG_INVALID'
  | 'REFERENCE_INVALID'
  | 'MANIFEST_INVALID'
  | 'MANIFEST_UNKNOWN'
  | 'MANIFEST_BLOB_UNKNOWN'
  | 'BLOB_UNKNOWN'
  | 'BLOB_UPLOAD_INVALID'
  | 'BLOB_UPLOAD_UNKNOWN'
  | 'NAME_UNKNOWN'
  | 'UNSUPPORTED'
  | 'DENIED'
  | 'UNAUTHORIZED'
  | 'TOOMANYREQUESTS'
  | 'SIZE_EXCEEDED'
  | 'DIGEST_MISMATCH'
  | 'NOT_FOUND'
  | 'UNAVAILABLE';

export class OciError extends SignetError {
  declare readonly code: OciErrorCode;
  constructor(code: OciErrorCode, message: string, options: { cause?: unknown; detail?: unknown } = {}) {
    super(code, message, options);
    this.name = 'OciError';
  }
}

/** True when the error means "this content or name does not exist". */
export function isNotFound(err: unknown): boolean {
  return err instanceof SignetError && err.kind === 'notfound';
}
