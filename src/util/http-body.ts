import { SignetError } from './errors.ts';

/**
 * A response body (undici's, a Node Readable, a web ReadableStream) or any byte stream: read by
 * async iteration, released by `destroy` (Node) or `cancel` (web streams).
 */
export type BodySource = AsyncIterable<Uint8Array> & {
  destroy?: (error?: Error) => unknown;
  cancel?: (reason?: unknown) => unknown;
  on?: (event: 'error', listener: (err: Error) => void) => unknown;
};

export interface ReadBoundedOptions {
  /** The declared length (a Content-Length header): refused before reading when over the bound. */
  contentLength?: string | number | null;
  /** What is read, for the message (`lookaside signature https://…`). Default: `response body`. */
  what?: string;
  /** Builds the error thrown past the bound (e.g. an OciError); default a SignetError SIZE_EXCEEDED. */
  error?: (message: string) => Error;
}

function release(body: BodySource, err: Error): void {
  try {
    // The refusal is reported by the caller; the stream's own 'error' must not go unhandled.
    if (typeof body.on === 'function') body.on('error', () => {});
    if (typeof body.destroy === 'function') body.destroy(err);
    else if (typeof body.cancel === 'function') void Promise.resolve(body.cancel(err)).catch(() => {});
  } catch {
    // releasing is best effort: the error below is what matters
  }
}

/**
 * Reads a whole body into memory, never more than `maxBytes`: a declared length over the bound is
 * refused before any byte is read, and a body that runs past the bound (an endless one, or one
 * whose Content-Length lies) is cut off as soon as it does, with SIZE_EXCEEDED. The body is
 * released on every failure, so its connection is not left streaming.
 */
export async function readBodyBounded(
  body: BodySource,
  maxBytes: number,
  options: ReadBoundedOptions = {}
): Promise<Buffer> {
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) {
    throw new RangeError(`maxBytes must be a non-negative integer, got ${maxBytes}`);
  }
  const what = options.what ?? 'response body';
  const exceeded = (message: string): Error =>
    options.error ? options.error(message) : new SignetError('SIZE_EXCEEDED', message);
  const declared = options.contentLength == null ? NaN : Number(options.contentLength);
  if (Number.isFinite(declared) && declared > maxBytes) {
    const err = exceeded(`${what} is ${declared} bytes, over the ${maxBytes}-byte limit`);
    release(body, err);
    throw err;
  }
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of body) {
      total += chunk.length;
      if (total > maxBytes) throw exceeded(`${what} is larger than the ${maxBytes}-byte limit`);
      chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
    }
  } catch (err) {
    release(body, err as Error);
    throw err;
  }
  return Buffer.concat(chunks, total);
}
