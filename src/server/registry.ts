import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { silentLogger, type Logger } from '../util/index.ts';
import { authError } from './access.ts';
import type { Authorizer } from './auth/types.ts';
import type { EnforcementPolicy } from './enforcement/enforcer.ts';
import type { Enforcer } from './enforcement/types.ts';
import { RegistryError } from './errors.ts';
import { flatpakIndex } from './flatpak-index.ts';
import { startMaintenance } from './gc.ts';
import { listenHttp, splitAddr, type HttpServerOptions, type RunningRegistry } from './http-server.ts';
import { serveLookaside } from './lookaside.ts';
import { DEFAULT_LIMITS, handle, matchRoute, type Limits, type RouteContext } from './routes.ts';
import { RegistryStorage } from './storage.ts';

export type { RunningRegistry } from './http-server.ts';

export interface RegistryOptions {
  /** `host:port`; port 0 picks a free one. Default 127.0.0.1:5000. */
  addr?: string;
  /** Storage root directory. */
  root: string;
  authorizer?: Authorizer;
  /**
   * Policy enforcement (`signet serve --policy`): manifests that do not verify are not served.
   * Policy scopes match `<publicName>/<repository>`.
   */
  policy?: EnforcementPolicy;
  /** The registry name policies and signatures use for this server (default: the listen address). */
  publicName?: string;
  /** Longest a verdict is cached (default 10 min). */
  verdictTtlMs?: number;
  /** A custom enforcer instead of `policy` (tests, embedders). */
  enforcer?: Enforcer;
  logger?: Logger;
  limits?: Partial<Limits>;
  /** Serve HTTPS with this certificate chain and key (PEM). */
  tls?: HttpServerOptions['tls'];
  /** How long `close()` waits for requests in flight (uploads) before cutting connections. Default 30 s. */
  shutdownGraceMs?: number;
  /** Upload sessions older than this answer BLOB_UPLOAD_UNKNOWN and are swept. Default 24 h. */
  uploadTtlMs?: number;
}

/** Starts the embedded OCI registry (distribution-spec v1.1 with the referrers API). */
export async function startRegistry(options: RegistryOptions): Promise<RunningRegistry> {
  const logger = options.logger ?? silentLogger;
  const addr = options.addr ?? '127.0.0.1:5000';
  splitAddr(addr);
  // Everything that can be refused is checked before the store directory is created.
  // The enforcer brings the whole trust engine (PKI, every signature family): loaded only when a
  // policy asks for it, so a plain registry starts and runs without it (start-up time, RSS).
  const enforcement = options.policy
    ? await Promise.all([import('./enforcement/enforcer.ts'), import('./enforcement/local-source.ts')])
    : undefined;
  const policy = enforcement ? await enforcement[0].loadEnforcementPolicy(options.policy!) : undefined;
  const rootExisted = existsSync(options.root);
  const storage = new RegistryStorage(options.root);
  const stale = await storage.init();
  if (stale) logger.warn({ removed: stale }, 'removed temp files left by an earlier crash');
  const maintenance = startMaintenance(storage, { uploadTtlMs: options.uploadTtlMs, logger });
  const ctx: RouteContext = { storage, limits: { ...DEFAULT_LIMITS, ...options.limits }, activeUploads: { n: 0 } };
  const { authorizer } = options;
  if (authorizer) ctx.authorizer = authorizer;
  if (options.enforcer) ctx.enforcer = options.enforcer;
  const enforced = Boolean(policy || options.enforcer);

  const check = async (req: Parameters<Authorizer['check']>[0], access: Parameters<Authorizer['check']>[1]) => {
    if (!authorizer) return;
    const r = await authorizer.check(req, access);
    if (!r.ok) throw authError(r);
  };

  try {
    const running = await listenHttp(
      {
        addr,
        logger,
        ...(authorizer ? { authorizer } : {}),
        ...(options.tls ? { tls: options.tls } : {}),
        ...(options.shutdownGraceMs !== undefined ? { shutdownGraceMs: options.shutdownGraceMs } : {}),
        enforcerStats: () => ctx.enforcer?.stats(),
        // Built before any connection is handled: the default registry name is the address with
        // its real port, and no request is ever served unenforced.
        onListening: (hostPort) => {
          if (!policy || !enforcement) return;
          const [{ PolicyEnforcer }, { LocalEnforcementSource }] = enforcement;
          const name = options.publicName ?? hostPort;
          ctx.enforcer = new PolicyEnforcer({
            ...policy,
            registryName: name,
            source: new LocalEnforcementSource(storage, name),
            logger,
            ...(options.verdictTtlMs !== undefined ? { maxTtlMs: options.verdictTtlMs } : {}),
          });
        },
      },
      async (req, res, route) => {
        if (enforced && !ctx.enforcer) throw new RegistryError('UNAVAILABLE', 'starting up', 503);
        const path = (req.url ?? '/').split('?')[0]!;
        if (path === '/v2' || path.startsWith('/v2/')) {
          route(matchRoute(path)?.kind ?? 'v2-unknown');
          await handle(ctx, req, res);
        } else if (req.method === 'GET' && (path === '/index/static' || path === '/index/dynamic')) {
          route('flatpak-index');
          // Flatpak's index is a listing of repositories: it needs the same right as the catalog.
          await check(req, [{ type: 'registry', name: 'catalog', actions: ['*'] }]);
          await flatpakIndex(storage, req, res);
        } else if (req.method === 'GET' && path.startsWith('/lookaside/')) {
          route('lookaside');
          await check(req, [
            { type: 'repository', name: /^\/lookaside\/(.+)@/.exec(path)?.[1] ?? '', actions: ['pull'] },
          ]);
          await serveLookaside(storage, path, res, req);
        } else if (req.method === 'GET' && (path === '/' || path.startsWith('/ui/'))) {
          route('web');
          // The web view describes signatures (every family's parser): loaded on its first page.
          const { renderWebView } = await import('./webview.ts');
          await renderWebView(storage, req, res, authorizer, ctx.enforcer);
        } else {
          return false;
        }
        return true;
      }
    );
    const close = running.close;
    running.close = () => {
      maintenance.stop();
      return close();
    };
    return running;
  } catch (err) {
    maintenance.stop();
    // A failed start leaves nothing behind that it created.
    if (!rootExisted) await rm(options.root, { recursive: true, force: true });
    throw err;
  }
}
