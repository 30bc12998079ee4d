import type { ServerResponse } from 'node:http';
import { SignetError, type ErrorCode } from '../util/index.ts';

/** distribution-spec error codes and their HTTP statuses. */
const STATUS: Record<string, number> = {
  BLOB_UNKNOWN: 404,
  BLOB_UPLOAD_INVALID: 400,
  BLOB_UPLOAD_UNKNOWN: 404,
  DIGEST_INVALID: 400,
  MANIFEST_BLOB_UNKNOWN: 400,
  MANIFEST_INVALID: 400,
  MANIFEST_UNKNOWN: 404,
  NAME_INVALID: 400,
  NAME_UNKNOWN: 404,
  SIZE_INVALID: 400,
  UNAUTHORIZED: 401,
  DENIED: 403,
  UNSUPPORTED: 405,
  TOOMANYREQUESTS: 429,
};

/** An error the registry answers with: spec code, HTTP status, message. */
export class RegistryError extends SignetError {
  constructor(
    code: ErrorCode,
    message: string,
    readonly status: number = STATUS[code] ?? 400,
    readonly headers: Record<string, string> = {},
    detail?: unknown
  ) {
    super(code, message, detail === undefined ? {} : { detail });
    this.name = 'RegistryError';
  }
}

/** Maps any thrown error to the response body and status of the distribution spec. */
export function toRegistryError(err: unknown): RegistryError {
  if (err instanceof RegistryError) return err;
  if (err instanceof SignetError) {
    const code =
      err.code === 'DIGEST_MISMATCH' ? 'DIGEST_INVALID' : err.code === 'SIZE_EXCEEDED' ? 'SIZE_INVALID' : err.code;
    if (code in STATUS) return new RegistryError(code, err.message);
    return new RegistryError('UNSUPPORTED', err.message, 400);
  }
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'ERR_STREAM_PREMATURE_CLOSE' || e?.code === 'ECONNRESET' || e?.code === 'ABORT_ERR') {
    return new RegistryError('BLOB_UPLOAD_INVALID', 'request body ended before it was complete');
  }
  return new RegistryError('UNKNOWN', 'internal error', 500);
}

export function sendError(res: ServerResponse, err: RegistryError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({
    errors: [{ code: err.code, message: err.message, ...(err.detail !== undefined ? { detail: err.detail } : {}) }],
  });
  res.writeHead(err.status, {
    ...err.headers,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}
