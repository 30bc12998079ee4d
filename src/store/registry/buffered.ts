import type { IncomingHttpHeaders } from 'node:http';
import type { Dispatcher } from 'undici';
import { OciError } from '../../oci/index.ts';

/** An answer read whole: manifests, referrer lists, signatures, HEADs and error bodies. */
export interface BufferedResponse {
  statusCode: number;
  headers: IncomingHttpHeaders;
  /** The body, at most the bound the request named (an error answer keeps its first 64 KiB). */
  body: Buffer;
  /** The redirects followed (undici's redirect interceptor), as `request()` reports them. */
  context: { history?: readonly URL[] };
}

/** What an error answer keeps of its body: enough for the registry's error document. */
export const ERROR_BODY_KEPT = 64 * 1024;

/**
 * Sends one request through `dispatcher` and reads the answer into one buffer, through undici's
 * handler API. `request()` would hand back a body stream: for the small answers a verification
 * reads (three GETs per artifact), that stream, the headers turned into raw buffers and parsed
 * back, and the async iteration over the chunks cost more client time than the request itself.
 * A HEAD must come through a dispatcher that does not retry it by status: see onResponseEnd.
 *
 * Bounded: a success whose declared length is over `maxBytes` is refused before its body is read,
 * and one that sends more is cut off there (SIZE_EXCEEDED); a HEAD has no body to bound. An error
 * answer (not 2xx) keeps its first 64 KiB, and the connection is closed on the rest.
 */
export function sendBuffered(
  dispatcher: Dispatcher,
  request: Dispatcher.DispatchOptions,
  maxBytes: number,
  what: string
): Promise<BufferedResponse> {
  return new Promise((resolve, reject) => {
    let statusCode = 0;
    let headers: IncomingHttpHeaders = {};
    let context: BufferedResponse['context'] = {};
    const chunks: Buffer[] = [];
    let size = 0;
    let limit = maxBytes;
    let started = false;
    let settled = false;
    const tooLarge = (n: number, declared: boolean): OciError =>
      new OciError(
        'SIZE_EXCEEDED',
        `${what}: the answer ${declared ? 'is' : 'runs past'} ${n} bytes, over the ${maxBytes}-byte limit`
      );
    const finish = (): void => {
      settled = true;
      const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
      resolve({ statusCode, headers, body, context });
    };
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(_controller, ctx) {
        context = (ctx ?? {}) as BufferedResponse['context'];
      },
      onResponseStart(controller, status, hdrs) {
        started = true;
        statusCode = status;
        headers = hdrs as IncomingHttpHeaders;
        const success = status >= 200 && status < 300;
        limit = success ? maxBytes : Math.min(maxBytes, ERROR_BODY_KEPT);
        // a HEAD declares the length of what a GET would send, and sends nothing
        if (!success || request.method === 'HEAD') return;
        const declared = Number(hdrs['content-length']);
        if (declared > maxBytes) controller.abort(tooLarge(declared, true));
      },
      onResponseData(controller, chunk) {
        if (settled) return;
        if (size + chunk.length > limit) {
          if (statusCode >= 200 && statusCode < 300) return controller.abort(tooLarge(size + chunk.length, false));
          // An error answer: what is kept is enough; the rest is not read.
          chunks.push(chunk.subarray(0, limit - size));
          size = limit;
          finish();
          return controller.abort(new Error('rest of the error answer not read'));
        }
        chunks.push(chunk);
        size += chunk.length;
      },
      onResponseEnd() {
        if (settled) return;
        // undici's retry handler (7.30) passes on the end of a HEAD's answer that it is about to
        // retry by status before it has decided, with no start before it: that is no answer. The
        // registry client retries HEADs on connection errors only; anything that did this anyway
        // fails here, rather than reading as an answer or waiting for ever.
        if (!started) {
          settled = true;
          reject(new Error('the answer ended before it began (undici retry handler)'));
          return;
        }
        finish();
      },
      onResponseError(_controller, err) {
        if (settled) return;
        settled = true;
        reject(err);
      },
    };
    dispatcher.dispatch(request, handler);
  });
}
