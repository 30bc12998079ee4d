import { SignetError, type ErrorKind } from '../util/index.ts';

/**
 * Codes of OCI-level errors. The distribution-spec codes (BLOB_UNKNOWN ...) are used as they are
 * so that a registry error and a local one read the same.
 */
export type OciErrorCode =
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

const KIND: Partial<Record<OciErrorCode, ErrorKind>> = {
  // A malformed reference is a malformed argument (exit 2). Names, tags and digests that fail
  // their grammar while parsing a reference are given kind 'usage' where they are thrown
  // (oci/reference.ts); the same codes for bad data read from a store stay 'input' (exit 3).
  REFERENCE_INVALID: 'usage',
  MANIFEST_UNKNOWN: 'notfound',
  BLOB_UNKNOWN: 'notfound',
  NAME_UNKNOWN: 'notfound',
  NOT_FOUND: 'notfound',
  UNAVAILABLE: 'inconclusive',
  TOOMANYREQUESTS: 'inconclusive',
};

export class OciError extends SignetError {
  declare readonly code: OciErrorCode;
  constructor(code: OciErrorCode, message: string, options: { cause?: unknown; detail?: unknown; kind?: ErrorKind } = {}) {
    super(code, message, { kind: options.kind ?? KIND[code] ?? 'input', cause: options.cause, detail: options.detail });
    this.name = 'OciError';
  }
}

/** True when the error means "this content or name does not exist". */
export function isNotFound(err: unknown): boolean {
  return err instanceof SignetError && err.kind === 'notfound';
}
