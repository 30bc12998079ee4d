import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import {
  isManifestMediaType,
  isValidRepositoryName,
  isValidTag,
  MANIFEST_ACCEPT,
  MAX_MANIFEST_SIZE,
  MediaType,
  OciError,
  parseDigest,
  parseManifest,
  VerifyingStream,
  type Manifest,
} from '../../oci/index.ts';
import {
  readAll,
  RegistryClient,
  servedManifestDigest,
  staticCredentials,
  type Credentials,
} from '../../store/index.ts';
import { silentLogger, type Logger } from '../../util/index.ts';
import { authorizeRoute, checkSignerWrite, maySign, signatureTagSubject } from '../access.ts';
import type { Authorizer } from '../auth/types.ts';
import { loadEnforcementPolicy, PolicyEnforcer, type EnforcementPolicy } from '../enforcement/enforcer.ts';
import { RegistryError } from '../errors.ts';
import { listenHttp, type HttpServerOptions, type RunningRegistry } from '../http-server.ts';
import { matchRoute, readBody, type Route } from '../routes.ts';
import { UpstreamEnforcementSource } from './upstream-source.ts';

export interface PullThroughOptions {
  /** `host:port` to listen on. Default 127.0.0.1:5000. */
  addr?: string;
  /** The upstream registry, `http(s)://host[:port]`. */
  upstream: string;
  /** Credentials for the upstream (else anonymous). */
  upstreamCredentials?: Credentials;
  /** The policy every manifest GET is enforced with (required: a proxy that enforces nothing is pointless). */
  policy: EnforcementPolicy;
  /** Refuse writes instead of forwarding them. */
  readOnly?: boolean;
  /** Cache denials this long (default 0: a signature pushed to the upstream is seen on the next pull). */
  denyTtlMs?: number;
  /** Longest a positive verdict is cached (default 10 min). */
  verdictTtlMs?: number;
  authorizer?: Authorizer;
  logger?: Logger;
  tls?: HttpServerOptions['tls'];
  shutdownGraceMs?: number;
}

/** Response headers of the upstream worth passing on. */
const PASSED_HEADERS = [
  'content-type',
  'content-length',
  'content-range',
  'docker-content-digest',
  'docker-upload-uuid',
  'range',
  'etag',
  'accept-ranges',
  'oci-subject',
  'oci-filters-applied',
];

/**
 * `signet serve --upstream URL`: a stateless, verifying pull-through in front of any OCI registry.
 * Reads pass after enforcement (a manifest GET is resolved once upstream, its bytes checked
 * against the digest, then judged by the trust engine); writes are forwarded or refused
 * (`readOnly`); when the upstream lacks the referrers API, the API is answered from the tag
 * schema. Instances share nothing but the upstream.
 */
export async function startPullThrough(options: PullThroughOptions): Promise<RunningRegistry> {
  const logger = options.logger ?? silentLogger;
  const upstreamUrl = new URL(options.upstream);
  if (upstreamUrl.protocol !== 'http:' && upstreamUrl.protocol !== 'https:')
    throw new RegistryError('USAGE', `--upstream ${options.upstream}: want http(s)://host[:port]`);
  const registry = upstreamUrl.host;
  const client = new RegistryClient({
    registry,
    plainHttp: upstreamUrl.protocol === 'http:',
    credentials: staticCredentials(options.upstreamCredentials),
    logger,
  });
  const source = new UpstreamEnforcementSource(client, registry);
  const enforcer = new PolicyEnforcer({
    ...(await loadEnforcementPolicy(options.policy)),
    // Policies are written for the registry the artifacts live in: the upstream's name.
    registryName: registry,
    source,
    logger,
    denyTtlMs: options.denyTtlMs ?? 0,
    ...(options.verdictTtlMs !== undefined ? { maxTtlMs: options.verdictTtlMs } : {}),
  });
  const proxy = new PullThrough(client, source, enforcer, options);
  const running = await listenHttp(
    {
      addr: options.addr ?? '127.0.0.1:5000',
      logger,
      ...(options.authorizer ? { authorizer: options.authorizer } : {}),
      ...(options.tls ? { tls: options.tls } : {}),
      ...(options.shutdownGraceMs !== undefined ? { shutdownGraceMs: options.shutdownGraceMs } : {}),
      enforcerStats: () => enforcer.stats(),
    },
    async (req, res, route) => {
      const path = (req.url ?? '/').split('?')[0]!;
      if (path !== '/v2' && !path.startsWith('/v2/')) return false;
      const r = matchRoute(path);
      route(r ? `proxy-${r.kind}` : 'proxy-unknown');
      await proxy.handle(req, res, r);
      return true;
    }
  ).catch(async (err: unknown) => {
    await client.close();
    throw err;
  });
  return {
    ...running,
    close: async () => {
      await running.close();
      await client.close();
    },
  };
}

class PullThrough {
  constructor(
    private readonly client: RegistryClient,
    private readonly source: UpstreamEnforcementSource,
    private readonly enforcer: PolicyEnforcer,
    private readonly options: PullThroughOptions
  ) {}

  async handle(req: IncomingMessage, res: ServerResponse, route: Route | null): Promise<void> {
    try {
      await this.route(req, res, route);
    } catch (err) {
      // The upstream refusing this proxy is the operator's problem, not the client's: a 401 here
      // would send the client after credentials the proxy never asked it for.
      if (err instanceof OciError && !(err instanceof RegistryError) && err.code === 'UNAUTHORIZED')
        throw this.upstreamRefused();
      throw err;
    }
  }

  private upstreamRefused(): RegistryError {
    return new RegistryError(
      'DENIED',
      `the upstream ${this.enforcer.registryName} wants credentials this proxy does not have (--upstream-creds)`,
      502
    );
  }

  private async route(req: IncomingMessage, res: ServerResponse, route: Route | null): Promise<void> {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://proxy.invalid');
    res.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
    if (!route) throw new RegistryError('NOT_FOUND', `no such endpoint: ${method} ${url.pathname.slice(0, 200)}`, 404);
    if ('name' in route && !isValidRepositoryName(route.name))
      throw new RegistryError('NAME_INVALID', `invalid repository name ${JSON.stringify(route.name.slice(0, 300))}`);
    const { signerOnly } = await authorizeRoute(this.options.authorizer, req, route, method, url);
    const read = method === 'GET' || method === 'HEAD';
    if (!read && this.options.readOnly)
      throw new RegistryError('UNSUPPORTED', 'this pull-through registry is read-only: push to the upstream', 405);
    switch (route.kind) {
      case 'base':
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '2' });
        res.end(method === 'HEAD' ? undefined : '{}');
        return;
      case 'manifest':
        if (method === 'GET') return this.getManifest(req, res, route.name, route.reference);
        if (method === 'PUT') return this.putManifest(req, res, route.name, route.reference, signerOnly);
        return this.forward(req, res, route.name, method);
      case 'blob':
        if (method === 'GET') return this.getBlob(req, res, route.name, route.digest);
        return this.forward(req, res, route.name, method);
      case 'referrers':
        if (method !== 'GET') throw new RegistryError('UNSUPPORTED', `method ${method} is not supported here`, 405);
        return this.referrers(res, route.name, route.digest, url);
      case 'catalog':
        return this.forward(req, res, undefined, method);
      default:
        return this.forward(req, res, route.name, method);
    }
  }

  private scopes(name: string | undefined, method: string): string[] {
    if (!name) return ['registry:catalog:*'];
    const actions = method === 'GET' || method === 'HEAD' ? 'pull' : method === 'DELETE' ? 'delete' : 'pull,push';
    return [`repository:${name}:${actions}`];
  }

  /** Passes one request to the upstream as it is, body streamed, and its answer back. */
  private async forward(
    req: IncomingMessage,
    res: ServerResponse,
    name: string | undefined,
    method: string,
    body?: Uint8Array
  ): Promise<void> {
    const headers: Record<string, string> = {};
    for (const h of ['accept', 'content-type', 'content-length', 'content-range', 'range']) {
      const v = req.headers[h];
      if (typeof v === 'string') headers[h] = v;
    }
    const hasBody = body !== undefined || (method !== 'GET' && method !== 'HEAD' && method !== 'DELETE');
    const up = await this.client.send(method, req.url ?? '/', {
      headers,
      scopes: this.scopes(name, method),
      ...(hasBody ? { body: body ?? req } : {}),
    });
    if (!hasBody) req.resume();
    if (up.statusCode === 401) {
      await up.body.dump();
      throw this.upstreamRefused();
    }
    res.writeHead(up.statusCode, this.passHeaders(up.headers));
    if (method === 'HEAD') {
      await up.body.dump();
      res.end();
      return;
    }
    await pipeline(up.body, res);
  }

  private passHeaders(h: Record<string, string | string[] | undefined>): Record<string, string> {
    const out: Record<string, string> = {};
    for (const k of PASSED_HEADERS) {
      const v = h[k];
      if (typeof v === 'string') out[k] = v;
    }
    // Upload sessions and pages continue here, not at the upstream.
    for (const k of ['location', 'link']) {
      const v = h[k];
      if (typeof v === 'string') out[k] = this.local(v);
    }
    return out;
  }

  /** An upstream URL as a path on this server (same path and query). */
  private local(v: string): string {
    return v.replace(/^https?:\/\/[^/]+(?=\/)/i, (origin) =>
      new URL(origin).host === new URL(this.options.upstream).host ? '' : origin
    );
  }

  /**
   * A manifest GET: resolved upstream once, its bytes checked against the digest (the tag's digest
   * is computed here, not taken from a header), judged, then served as fetched.
   */
  private async getManifest(req: IncomingMessage, res: ServerResponse, name: string, reference: string): Promise<void> {
    if (!reference.includes(':') && !isValidTag(reference))
      throw new RegistryError('MANIFEST_INVALID', `invalid tag ${JSON.stringify(reference.slice(0, 200))}`);
    const up = await this.client.send('GET', `/v2/${name}/manifests/${reference}`, {
      headers: { accept: req.headers.accept ?? MANIFEST_ACCEPT },
      scopes: this.scopes(name, 'GET'),
    });
    if (up.statusCode === 401) {
      await up.body.dump();
      throw this.upstreamRefused();
    }
    if (up.statusCode !== 200) {
      const err = await this.client.errorFrom(up, `GET manifest ${reference}`);
      throw new RegistryError(
        up.statusCode === 404 ? 'MANIFEST_UNKNOWN' : err.code,
        err.message,
        up.statusCode === 404 ? 404 : up.statusCode >= 500 ? 502 : up.statusCode
      );
    }
    const bytes = Buffer.from(await readAll(up.body, MAX_MANIFEST_SIZE));
    const mediaType = (String(up.headers['content-type'] ?? '').split(';')[0] ?? '').trim();
    if (!isManifestMediaType(mediaType))
      throw new RegistryError(
        'MANIFEST_INVALID',
        `the upstream served ${reference} as ${JSON.stringify(mediaType)}`,
        502
      );
    const header = up.headers['docker-content-digest'];
    let digest: string;
    try {
      digest = servedManifestDigest(
        this.enforcer.registryName,
        reference,
        bytes,
        typeof header === 'string' ? header : undefined
      );
    } catch (err) {
      throw new RegistryError('DIGEST_INVALID', `the upstream is not to be trusted: ${(err as Error).message}`, 502);
    }
    this.source.noteManifest(name, digest, bytes, mediaType);
    const verdict = await this.enforcer.verdict(name, reference, { digest, mediaType, size: bytes.length });
    res.setHeader('Signet-Verdict', verdict.outcome);
    if (!verdict.allowed && !(await maySign(this.options.authorizer, req, name)))
      throw new RegistryError('DENIED', `not verified: ${verdict.message}`, 403, {}, { digest });
    res.writeHead(200, {
      'content-type': mediaType,
      'content-length': String(bytes.length),
      'Docker-Content-Digest': digest,
      ETag: `"${digest}"`,
    });
    res.end(bytes);
  }

  /** A blob streamed through, checked against its digest as it flows (a mismatch cuts the response). */
  private async getBlob(req: IncomingMessage, res: ServerResponse, name: string, digest: string): Promise<void> {
    parseDigest(digest);
    if (req.headers.range) return this.forward(req, res, name, 'GET');
    const up = await this.client.send('GET', `/v2/${name}/blobs/${digest}`, { scopes: this.scopes(name, 'GET') });
    const size = Number(up.headers['content-length']);
    if (up.statusCode !== 200 || !Number.isSafeInteger(size)) {
      res.writeHead(up.statusCode, this.passHeaders(up.headers));
      await pipeline(up.body, res);
      return;
    }
    res.writeHead(200, this.passHeaders(up.headers));
    await pipeline(up.body, new VerifyingStream({ digest, size }), res);
  }

  private async putManifest(
    req: IncomingMessage,
    res: ServerResponse,
    name: string,
    reference: string,
    signerOnly: boolean
  ): Promise<void> {
    const bytes = await readBody(req, MAX_MANIFEST_SIZE);
    const mediaType = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
    let manifest: Manifest;
    try {
      manifest = parseManifest(bytes, mediaType);
    } catch (err) {
      throw new RegistryError('MANIFEST_INVALID', (err as Error).message);
    }
    const tag = reference.includes(':') ? undefined : reference;
    if (signerOnly)
      await checkSignerWrite(name, tag, manifest, async (d) => (await this.source.manifestInfo(name, d)) !== null);
    await this.forward(req, res, name, 'PUT', bytes);
    if (manifest.subject) this.enforcer.invalidate(name, manifest.subject.digest);
    const tagSubject = tag === undefined ? null : signatureTagSubject(tag);
    if (tagSubject) this.enforcer.invalidate(name, tagSubject);
  }

  /** The referrers API, from the upstream's API or, when it has none, its tag schema. */
  private async referrers(res: ServerResponse, name: string, digest: string, url: URL): Promise<void> {
    parseDigest(digest);
    const artifactType = url.searchParams.get('artifactType') ?? undefined;
    const target = this.source.target(name);
    const list = await target.referrers({ mediaType: MediaType.ImageManifest, digest, size: 0 }, artifactType);
    const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ImageIndex, manifests: list }));
    res.writeHead(200, {
      'content-type': MediaType.ImageIndex,
      'content-length': String(body.length),
      ...(artifactType !== undefined ? { 'OCI-Filters-Applied': 'artifactType' } : {}),
    });
    res.end(body);
  }
}
