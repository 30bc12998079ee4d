/**
 * The one error base of Signet. Every error thrown by library code is a SignetError whose `code`
 * comes from the catalog below; its `kind` — and with it the CLI exit code — is looked up from
 * the code in this one table, never chosen at the throw site.
 *
 * Kinds: `usage` (exit 2: malformed arguments, references, policies, configuration), `failed`
 * (exit 1: a verification check failed), anything else exit 3 (`inconclusive`: could not be
 * decided; `notfound`; `io`; `input`: bad data read from a store, a file or a peer).
 */
export type ErrorKind = 'usage' | 'failed' | 'inconclusive' | 'input' | 'notfound' | 'io';

export const ERROR_CATALOG = {
  // --- the command line and the library's arguments
  USAGE: 'usage',
  INPUT_INVALID: 'usage',
  READ_ONLY: 'usage',
  // --- oci/ and store/: digests, references, manifests, the distribution spec's codes
  REFERENCE_INVALID: 'usage',
  DIGEST_INVALID: 'usage',
  NAME_INVALID: 'usage',
  TAG_INVALID: 'usage',
  DIGEST_MISMATCH: 'input',
  SIZE_INVALID: 'input',
  SIZE_EXCEEDED: 'input',
  MANIFEST_INVALID: 'input',
  MANIFEST_BLOB_UNKNOWN: 'input',
  BLOB_UPLOAD_INVALID: 'input',
  BLOB_UPLOAD_UNKNOWN: 'notfound',
  PAGINATION_NUMBER_INVALID: 'input',
  UNSUPPORTED: 'input',
  DENIED: 'input',
  UNAUTHORIZED: 'input',
  MANIFEST_UNKNOWN: 'notfound',
  BLOB_UNKNOWN: 'notfound',
  NAME_UNKNOWN: 'notfound',
  NOT_FOUND: 'notfound',
  UNAVAILABLE: 'inconclusive',
  TOOMANYREQUESTS: 'inconclusive',
  CREDENTIAL_HELPER_FAILED: 'io',
  STATE_CORRUPT: 'input',
  STORE_MISSING: 'usage',
  STORE_INVALID: 'input',
  FSCK_FAILED: 'io',
  IO: 'io',
  INTERNAL: 'io',
  // --- pki/: keys, certificates, timestamps
  KEY_EXISTS: 'usage',
  KEY_NOT_FOUND: 'usage',
  KEY_UNSUPPORTED: 'usage',
  KEY_INVALID: 'input',
  KEY_MISMATCH: 'input',
  CERT_FILE_INVALID: 'input',
  CERT_EXPIRED: 'input',
  CERT_INVALID: 'failed',
  CERT_CHAIN_INVALID: 'failed',
  ALGORITHM_MISMATCH: 'failed',
  ALGORITHM_UNSUPPORTED: 'failed',
  TIMESTAMP_INVALID: 'failed',
  TIMESTAMP_UNAVAILABLE: 'inconclusive',
  // --- signature/: envelopes and payloads of every family
  ENVELOPE_MALFORMED: 'failed',
  ENVELOPE_TOO_LARGE: 'failed',
  ENVELOPE_UNSUPPORTED: 'failed',
  UNKNOWN_CRITICAL: 'failed',
  SIGNATURE_INVALID: 'failed',
  COSIGN_INVALID: 'failed',
  SIMPLE_SIGNATURE_INVALID: 'failed',
  LAYOUT_SIGNATURE_INVALID: 'failed',
  LOOKASIDE_UNAVAILABLE: 'inconclusive',
  CONFIG_INVALID: 'usage',
  CONFIG_UNREADABLE: 'io',
  // --- trust/, verify/, freshness/: policies, stores, verdicts
  POLICY_INVALID: 'usage',
  CONTAINERS_POLICY_INVALID: 'usage',
  POLICY_CONFLICT: 'usage',
  POLICY_MISSING: 'failed',
  POLICY_NOT_FOUND: 'input',
  POLICY_UNREADABLE: 'input',
  NO_APPLICABLE_POLICY: 'failed',
  TRUST_STORE_INVALID: 'failed',
  ROLLBACK: 'failed',
  VERIFICATION_FAILED: 'failed',
  VERIFICATION_INCONCLUSIVE: 'inconclusive',
  // --- plugin/: the Notary Project plugin contract (plugin trouble is never a verdict)
  PLUGIN_EXISTS: 'usage',
  PLUGIN_NOT_FOUND: 'usage',
  PLUGIN_INVALID: 'input',
  PLUGIN_VALIDATION_ERROR: 'inconclusive',
  PLUGIN_UNSUPPORTED_CONTRACT_VERSION: 'inconclusive',
  PLUGIN_ACCESS_DENIED: 'inconclusive',
  PLUGIN_TIMEOUT: 'inconclusive',
  PLUGIN_THROTTLED: 'inconclusive',
  PLUGIN_ERROR: 'inconclusive',
  // --- server/: authentication configuration
  AUTH_CONFIG_INVALID: 'usage',
  // what the registry answers for an error it did not expect (HTTP 500)
  UNKNOWN: 'io',
} as const satisfies Record<string, ErrorKind>;

export type ErrorCode = keyof typeof ERROR_CATALOG;

export class SignetError extends Error {
  readonly code: ErrorCode;
  readonly detail?: unknown;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; detail?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SignetError';
    this.code = code;
    if (options.detail !== undefined) this.detail = options.detail;
  }

  /** What kind of failure this is: looked up from the code, in the one table. */
  get kind(): ErrorKind {
    return ERROR_CATALOG[this.code] ?? 'io';
  }

  /** JSON form: code, kind and message (never a stack or a secret). */
  toJSON(): { code: ErrorCode; kind: ErrorKind; message: string } {
    return { code: this.code, kind: this.kind, message: this.message };
  }
}

/** True when `err` is a SignetError with the given code. */
export function hasCode(err: unknown, code: ErrorCode): err is SignetError {
  return err instanceof SignetError && err.code === code;
}

/** The process exit code for an error, per DESIGN §3. */
export function exitCodeFor(err: unknown): number {
  if (err instanceof SignetError) {
    if (err.kind === 'usage') return 2;
    if (err.kind === 'failed') return 1;
  }
  return 3;
}
