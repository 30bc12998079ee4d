import { Readable } from 'node:stream';
import { Agent, interceptors, request, type Dispatcher } from 'undici';
import { OciError, type OciErrorCode } from '../../oci/index.ts';
import { Limiter, readBodyBounded, SIGNET_VERSION, silentLogger, type Logger } from '../../util/index.ts';
import type { CredentialProvider, Credentials } from '../credentials/index.ts';
import { ERROR_BODY_KEPT, sendBuffered, type BufferedResponse } from './buffered.ts';

/**
 * A request body: bytes (re-sent on retries and redirects), a factory of streams (a fresh stream
 * when the request is sent again after an authentication challenge), or a one-shot stream.
 */
export type Body = Uint8Array | (() => Readable) | Readable;

export interface SendOptions {
  headers?: Record<string, string>;
  body?: Body;
  /** Token scopes this request needs, e.g. `repository:app:pull,push`. */
  scopes: string[];
}

export interface ClientOptions {
  registry: string;
  /**
   * Speak HTTP instead of HTTPS. Default: `SIGNET_PLAIN_HTTP` (`1`/`true` HTTP, `0`/`false`
   * HTTPS), else HTTP for loopback names only (see {@link defaultPlainHttp}).
   */
  plainHttp?: boolean;
  /**
   * HTTPS without verifying the registry's certificate (a test registry with a self-signed one).
   * Implies HTTPS unless `plainHttp` is set; applies to every origin this client reaches.
   */
  insecure?: boolean;
  credentials?: CredentialProvider;
  concurrency?: number;
  userAgent?: string;
  logger?: Logger;
  /** Attempts for retryable failures (429, 502-504, connection errors), first one included. */
  maxAttempts?: number;
}

/** Redirects followed per request; more is an error. */
export const MAX_REDIRECTS = 5;
const RETRY_STATUSES = [429, 502, 503, 504];
const REDIRECT_STATUSES = new Set([300, 301, 302, 303, 307, 308]);
const RETRY_ERROR_CODES = [
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ECONNREFUSED',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
];

const KNOWN_CODES = new Set<string>([
  'BLOB_UNKNOWN',
  'BLOB_UPLOAD_INVALID',
  'BLOB_UPLOAD_UNKNOWN',
  'DIGEST_INVALID',
  'MANIFEST_BLOB_UNKNOWN',
  'MANIFEST_INVALID',
  'MANIFEST_UNKNOWN',
  'NAME_INVALID',
  'NAME_UNKNOWN',
  'SIZE_INVALID',
  'UNAUTHORIZED',
  'DENIED',
  'UNSUPPORTED',
  'TOOMANYREQUESTS',
]);

/**
 * Plain HTTP for loopback registries or when asked (DESIGN §3): `SIGNET_PLAIN_HTTP=1` (or `true`)
 * for every registry, `SIGNET_PLAIN_HTTP=0` (or `false`) for none, loopback names included.
 */
export function defaultPlainHttp(registry: string): boolean {
  const env = process.env.SIGNET_PLAIN_HTTP;
  if (env === '1' || env === 'true') return true;
  if (env === '0' || env === 'false') return false;
  return isLoopbackName(registry);
}

function isLoopbackName(registry: string): boolean {
  const host = registry.replace(/:\d+$/, '');
  return host === 'localhost' || host === '127.0.0.1' || host === '[::1]' || host.startsWith('127.');
}

/** Why a client speaks plain HTTP, or that it speaks HTTPS: the hints name the way out. */
export type TransportChoice = 'https' | 'plain-http' | 'plain-http-env' | 'plain-http-loopback';

// What the TLS layer says when an HTTPS request reaches a server speaking plain HTTP.
const PLAIN_SERVER_CODES = new Set([
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'ERR_SSL_PACKET_LENGTH_TOO_LONG',
  'ERR_SSL_UNKNOWN_PROTOCOL',
  'ERR_SSL_HTTP_REQUEST',
  'ERR_SSL_RECORD_LAYER_FAILURE',
  'EPROTO',
]);
const PLAIN_SERVER_MESSAGE = /wrong version number|packet length too long|unknown protocol|record layer failure/i;
// What it says when the server's certificate does not verify.
const CERT_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_CHAIN_TOO_LONG',
  'INVALID_CA',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);
const CERT_MESSAGE =
  /self[- ]signed certificate|unable to verify the first certificate|unable to get (?:local )?issuer certificate|certificate has expired|certificate is not yet valid|does not match certificate's altnames/i;
// A server speaking TLS hangs up on (or refuses) a plain HTTP request.
const HANGUP_CODES = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE']);

/** Every `code` and message down an error's `cause` chain. */
function errorChain(err: unknown): { codes: string[]; messages: string[] } {
  const codes: string[] = [];
  const messages: string[] = [];
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string') codes.push(code);
    messages.push(e.message);
  }
  return { codes, messages };
}

/**
 * What to do about a connection failure that looks like the wrong transport: HTTPS to a plain
 * HTTP server, a certificate that does not verify, plain HTTP to an HTTPS server. Undefined when
 * the failure says nothing of the kind.
 */
export function transportHint(err: unknown, host: string, transport: TransportChoice): string | undefined {
  const { codes, messages } = errorChain(err);
  const text = messages.join('\n');
  if (transport === 'https') {
    if (codes.some((c) => PLAIN_SERVER_CODES.has(c)) || PLAIN_SERVER_MESSAGE.test(text))
      return `the registry at ${host} seems to speak plain HTTP: add --plain-http (or SIGNET_PLAIN_HTTP=1)`;
    if (codes.includes('ERR_TLS_CERT_ALTNAME_INVALID') || /does not match certificate's altnames/i.test(text))
      return `its certificate does not name ${host}: add --insecure for a test registry, or use the name the certificate carries`;
    if (codes.some((c) => CERT_CODES.has(c)) || CERT_MESSAGE.test(text))
      return 'its certificate is not trusted: add --insecure for a test registry, or NODE_EXTRA_CA_CERTS=ca.pem';
    return undefined;
  }
  if (!codes.some((c) => HANGUP_CODES.has(c)) && !/other side closed|socket hang up/i.test(text)) return undefined;
  return `${host} closed the connection: if it speaks HTTPS, ${httpsWayOut(transport)}`;
}

/** How to leave plain HTTP, by why it was chosen. */
function httpsWayOut(transport: Exclude<TransportChoice, 'https'>): string {
  if (transport === 'plain-http-env')
    return 'unset SIGNET_PLAIN_HTTP, or add --insecure for a self-signed test registry';
  if (transport === 'plain-http-loopback')
    return 'add --insecure for a test registry with a self-signed certificate, or SIGNET_PLAIN_HTTP=0 (signet speaks plain HTTP to loopback names unless told)';
  return 'drop --plain-http (add --insecure for a self-signed test registry)';
}

/** The flag wins, `--insecure` means HTTPS, then `SIGNET_PLAIN_HTTP`, then the loopback default. */
function chooseTransport(options: ClientOptions): TransportChoice {
  if (options.plainHttp !== undefined) return options.plainHttp ? 'plain-http' : 'https';
  if (options.insecure || !defaultPlainHttp(options.registry)) return 'https';
  const env = process.env.SIGNET_PLAIN_HTTP;
  return env === '1' || env === 'true' ? 'plain-http-env' : 'plain-http-loopback';
}

interface Challenge {
  scheme: 'basic' | 'bearer';
  params: Record<string, string>;
}

/** Parses `WWW-Authenticate: Bearer realm="…",service="…",scope="…"`. */
export function parseChallenge(header: string | undefined): Challenge | null {
  if (!header) return null;
  const m = /^\s*(\w+)\s*(.*)$/s.exec(header);
  if (!m) return null;
  const scheme = m[1]!.toLowerCase();
  if (scheme !== 'basic' && scheme !== 'bearer') return null;
  const params: Record<string, string> = {};
  const re = /(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g;
  let p: RegExpExecArray | null;
  while ((p = re.exec(m[2]!))) params[p[1]!.toLowerCase()] = (p[2] ?? p[3] ?? '').replace(/\\(.)/g, '$1');
  return { scheme, params };
}

/**
 * The HTTP side of the distribution-spec client: connection reuse, a concurrency limit, undici's
 * retry interceptor (429 and 502-504 honouring Retry-After, connection errors; bounded attempts)
 * and redirect interceptor (bounded; Authorization and cookies are dropped when a redirect leaves
 * the origin), and the challenge → token flow with a token cache per scope. Credentials are only
 * ever attached to requests for the registry's own origin.
 */
export class RegistryClient {
  readonly registry: string;
  readonly base: string;
  private readonly agent: Agent;
  private readonly dispatcher: Dispatcher;
  /** The same, retrying HEADs on connection errors only (see the constructor). */
  private readonly headDispatcher: Dispatcher;
  private readonly credentials: CredentialProvider | undefined;
  private readonly logger: Logger;
  private readonly maxAttempts: number;
  private readonly userAgent: string;
  private readonly tokens = new Map<string, { token: string; expires: number }>();
  private authScheme: Challenge | null = null;
  private creds: Promise<Credentials | undefined> | null = null;
  private readonly limiter: Limiter;
  /** The origin of `base`, parsed once. */
  private origin: string | undefined;
  /** HTTPS, or plain HTTP and why: named by the hints of a failed connection. */
  readonly transport: TransportChoice;

  constructor(options: ClientOptions) {
    this.registry = options.registry;
    this.transport = chooseTransport(options);
    const host = options.registry === 'docker.io' ? 'registry-1.docker.io' : options.registry;
    this.base = `${this.transport === 'https' ? 'https' : 'http'}://${host}`;
    this.maxAttempts = Math.max(1, options.maxAttempts ?? 4);
    this.agent = new Agent({
      connections: 32,
      keepAliveTimeout: 30_000,
      pipelining: 1,
      ...(options.insecure ? { connect: { rejectUnauthorized: false } } : {}),
    });
    // compose: the last interceptor is the outermost, so a retry repeats the whole redirect chain.
    const retry = (statusCodes: number[]): Dispatcher =>
      this.agent.compose(
        interceptors.redirect({ maxRedirections: MAX_REDIRECTS }),
        interceptors.retry({
          maxRetries: this.maxAttempts - 1,
          minTimeout: 200,
          timeoutFactor: 2,
          maxTimeout: 10_000, // also the cap on a Retry-After wait
          statusCodes,
          errorCodes: RETRY_ERROR_CODES,
          methods: ['GET', 'HEAD', 'PUT', 'POST', 'PATCH', 'DELETE'],
          // the last answer (429, 503, ...) is returned when the attempts are spent, for errorFrom
          throwOnError: false,
        })
      );
    this.dispatcher = retry(RETRY_STATUSES);
    // A HEAD is retried on connection errors only. undici's retry handler (7.30) passes on the end
    // of a HEAD's answer it is about to retry by status before it has decided, and counts from zero
    // again: a registry answering 503 to a HEAD was asked again without end (about 80 times a
    // second here). A HEAD's 429 or 503 comes back at once: resolve() then asks with GET, which is
    // retried as usual, and exists() reports it.
    this.headDispatcher = retry([]);
    this.credentials = options.credentials;
    this.logger = options.logger ?? silentLogger;
    this.userAgent = options.userAgent ?? `signet/${SIGNET_VERSION}`;
    this.limiter = new Limiter(options.concurrency ?? 8);
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  private getCredentials(): Promise<Credentials | undefined> {
    this.creds ??= this.credentials ? this.credentials(this.registry) : Promise.resolve(undefined);
    return this.creds;
  }

  private async authorization(scopes: string[]): Promise<string | undefined> {
    if (!this.authScheme) return undefined;
    if (this.authScheme.scheme === 'basic') {
      const c = await this.getCredentials();
      return c ? `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}` : undefined;
    }
    const key = scopes.slice().sort().join(' ');
    const cached = this.tokens.get(key);
    if (cached && cached.expires > Date.now()) return `Bearer ${cached.token}`;
    const token = await this.fetchToken(this.authScheme.params, scopes);
    return token ? `Bearer ${token}` : undefined;
  }

  private async fetchToken(params: Record<string, string>, scopes: string[]): Promise<string | undefined> {
    const realm = params.realm;
    if (!realm) throw new OciError('UNAUTHORIZED', `${this.registry}: bearer challenge without a realm`);
    const url = new URL(realm);
    if (params.service) url.searchParams.set('service', params.service);
    for (const s of scopes) url.searchParams.append('scope', s);
    const headers: Record<string, string> = { 'user-agent': this.userAgent };
    const c = await this.getCredentials();
    if (c) headers.authorization = `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
    let r: Dispatcher.ResponseData;
    try {
      r = await request(url, { method: 'GET', headers, dispatcher: this.dispatcher });
    } catch (err) {
      throw this.unavailable(err, `token request to ${url.origin}${url.pathname}`, url);
    }
    const text = await readLimited(r.body, 1 << 20, headerValue(r.headers['content-length']));
    if (r.statusCode !== 200) {
      throw new OciError(
        'UNAUTHORIZED',
        `${this.registry}: token request to ${url.origin}${url.pathname} failed with HTTP ${r.statusCode}${c ? ' (check the credentials)' : ' (no credentials configured: signet login)'}`
      );
    }
    let j: { token?: string; access_token?: string; expires_in?: number };
    try {
      j = JSON.parse(text) as typeof j;
    } catch {
      throw new OciError('UNAUTHORIZED', `${this.registry}: token endpoint answered with no JSON`);
    }
    const token = j.token ?? j.access_token;
    if (!token) throw new OciError('UNAUTHORIZED', `${this.registry}: token endpoint answered without a token`);
    const ttl = Math.max(30, Math.min(j.expires_in ?? 60, 3600));
    this.tokens.set(scopes.slice().sort().join(' '), { token, expires: Date.now() + (ttl - 10) * 1000 });
    return token;
  }

  /**
   * Sends a request to the registry (path relative to the base, or an absolute URL from a
   * Location header). Returns the response with its body unread; the caller consumes it.
   */
  async send(method: string, pathOrUrl: string, options: SendOptions): Promise<Dispatcher.ResponseData> {
    const dispatcher = method === 'HEAD' ? this.headDispatcher : this.dispatcher;
    return this.limiter.run(() => this.exchange(method, pathOrUrl, options, (req) => dispatcher.request(req)));
  }

  /**
   * Sends a request and reads its answer whole, at most `maxBytes` of body (SIZE_EXCEEDED past
   * it, declared or sent; an error answer keeps its first 64 KiB): for what is read into memory
   * anyway (manifests, referrer lists, signatures, HEADs). See {@link sendBuffered}.
   */
  async sendBuffered(
    method: string,
    pathOrUrl: string,
    options: SendOptions & { maxBytes: number }
  ): Promise<BufferedResponse> {
    const dispatcher = method === 'HEAD' ? this.headDispatcher : this.dispatcher;
    return this.limiter.run(() =>
      this.exchange(method, pathOrUrl, options, (req) =>
        sendBuffered(dispatcher, req, options.maxBytes, `${this.registry}: ${method} ${req.path}`)
      )
    );
  }

  /** One request through the interceptors, with the challenge → credentials round trip. */
  private async exchange<R extends Dispatcher.ResponseData | BufferedResponse>(
    method: string,
    pathOrUrl: string,
    options: SendOptions,
    dispatch: (req: Dispatcher.RequestOptions) => Promise<R>
  ): Promise<R> {
    const url = new URL(pathOrUrl, this.base);
    const origin = (this.origin ??= new URL(this.base).origin);
    const oneShot = options.body instanceof Readable;
    for (let authRetried = false; ;) {
      const headers: Record<string, string> = { 'user-agent': this.userAgent, ...options.headers };
      // Credentials and tokens go only to the registry's own origin (the redirect interceptor
      // drops them when a redirect leaves it).
      if (url.origin === origin) {
        const auth = await this.authorization(options.scopes);
        if (auth) headers.authorization = auth;
      }
      const body = typeof options.body === 'function' ? options.body() : options.body;
      let res: R;
      try {
        // Straight to the dispatcher (undici's request(url, …) parses the URL again and copies
        // the options on every call: a measurable share of a batch's requests).
        res = await dispatch({
          origin: url.origin,
          path: url.pathname + url.search,
          method: method as Dispatcher.HttpMethod,
          headers,
          body: body as never,
          // undici closes the connection after every HEAD (for servers that wrongly send a body
          // with one); registries do not, and a verification makes two HEADs per artifact: keep
          // the connection alive, as for any other request.
          ...(method === 'HEAD' ? { reset: false } : {}),
        });
      } catch (err) {
        if (err instanceof OciError) throw err;
        throw this.unavailable(err, `${method} ${url.pathname}`, url);
      }
      const hops = (res.context as { history?: URL[] } | undefined)?.history ?? [];
      const answered = hops.at(-1) ?? url;
      if (res.statusCode === 401 && answered.origin === origin && !authRetried) {
        const ch = parseChallenge(headerValue(res.headers['www-authenticate']));
        await discard(res);
        if (ch && !oneShot) {
          authRetried = true;
          this.authScheme = ch;
          if (ch.scheme === 'bearer') this.tokens.delete(options.scopes.slice().sort().join(' '));
          this.logger.debug({ scheme: ch.scheme, url: url.pathname }, 'authentication challenge');
          continue;
        }
        const hint = (await this.getCredentials()) ? '' : ' (no credentials: run signet login)';
        const what = `${method} ${url.pathname}`;
        throw new OciError('UNAUTHORIZED', `${this.registry}: authentication required for ${what}${hint}`);
      }
      if (REDIRECT_STATUSES.has(res.statusCode) && res.headers.location) {
        // The interceptor hands a redirect back only when it may not follow it.
        await discard(res);
        const why =
          hops.length > MAX_REDIRECTS
            ? `more than ${MAX_REDIRECTS} redirects`
            : 'a streamed request body cannot be sent again';
        const what = `${method} ${url.pathname}`;
        throw new OciError('UNAVAILABLE', `${this.registry}: too many redirects for ${what} (${why})`);
      }
      return res;
    }
  }

  /** A request that got no answer: UNAVAILABLE, with what to do when the transport looks wrong. */
  private unavailable(err: unknown, what: string, url: URL): OciError {
    // a token realm may live elsewhere: its own scheme says how it was reached
    const transport: TransportChoice | undefined =
      url.protocol === 'https:' ? 'https' : url.host === new URL(this.base).host ? this.transport : undefined;
    const hint = transport && transportHint(err, url.host, transport);
    const message = `${this.registry}: ${what}: ${(err as Error).message}${hint ? `: ${hint}` : ''}`;
    return new OciError('UNAVAILABLE', message, { cause: err });
  }

  /** Turns an error response into an OciError with the registry's own code and message. */
  async errorFrom(res: Dispatcher.ResponseData | BufferedResponse, what: string): Promise<OciError> {
    const text = Buffer.isBuffer(res.body)
      ? res.body.subarray(0, ERROR_BODY_KEPT).toString('utf8')
      : await readLimited(res.body, ERROR_BODY_KEPT).catch(() => '');
    if (
      res.statusCode === 400 &&
      this.transport !== 'https' &&
      /https/i.test(text) &&
      !text.trimStart().startsWith('{')
    ) {
      // nginx: "The plain HTTP request was sent to HTTPS port"; Go: "Client sent an HTTP request to an HTTPS server."
      const way = httpsWayOut(this.transport);
      return new OciError(
        'UNAVAILABLE',
        `${this.registry}: ${what}: HTTP 400: the registry at ${this.registry} speaks HTTPS: ${way}`
      );
    }
    let code: string | undefined;
    let message: string | undefined;
    try {
      const j = JSON.parse(text) as { errors?: Array<{ code?: string; message?: string }> };
      code = j.errors?.[0]?.code;
      message = j.errors?.[0]?.message;
    } catch {
      // not a spec error body
    }
    const fallback: OciErrorCode =
      res.statusCode === 404
        ? 'NOT_FOUND'
        : res.statusCode === 401
          ? 'UNAUTHORIZED'
          : res.statusCode === 403
            ? 'DENIED'
            : res.statusCode === 429
              ? 'TOOMANYREQUESTS'
              : res.statusCode >= 500
                ? 'UNAVAILABLE'
                : 'UNSUPPORTED';
    const c = (code && KNOWN_CODES.has(code) ? code : fallback) as OciErrorCode;
    return new OciError(
      c,
      `${this.registry}: ${what}: HTTP ${res.statusCode}${code ? ` ${code}` : ''}${message ? `: ${message}` : ''}`
    );
  }
}

/** Reads what is left of an answer that is not used (a buffered one has nothing left). */
async function discard(res: Dispatcher.ResponseData | BufferedResponse): Promise<void> {
  if (!Buffer.isBuffer(res.body)) await res.body.dump();
}

export function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Reads a response body as text, refusing more than `max` bytes (SIZE_EXCEEDED as an OciError):
 * a declared Content-Length over the bound is refused unread, and a body that runs past it (endless,
 * or longer than it claimed) is cut off there.
 */
export async function readLimited(
  body: AsyncIterable<Uint8Array> & { destroy?: () => void },
  max: number,
  contentLength?: string
): Promise<string> {
  const error = (message: string): OciError => new OciError('SIZE_EXCEEDED', message);
  return (await readBodyBounded(body, max, { contentLength, error })).toString('utf8');
}
