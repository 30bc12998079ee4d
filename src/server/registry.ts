import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignetError, silentLogger, type Logger } from '../util/index.ts';
import type { Authorizer } from './auth/types.ts';
import type { Enforcer } from './enforcement/types.ts';
import { RegistryError, sendError, toRegistryError } from './errors.ts';
import { flatpakIndex } from './flatpak-index.ts';
import { serveLookaside } from './lookaside.ts';
import { DEFAULT_LIMITS, handle, type Limits, type RouteContext } from './routes.ts';
import { RegistryStorage } from './storage.ts';
import { renderWebView } from './webview.ts';

export interface RegistryOptions {
  /** `host:port`; port 0 picks a free one. Default 127.0.0.1:5000. */
  addr?: string;
  /** Storage root directory. */
  root: string;
  authorizer?: Authorizer;
  /** Policy enforcement (`signet serve --policy`): manifests that do not verify are not served. */
  enforcer?: Enforcer;
  logger?: Logger;
  limits?: Partial<Limits>;
}

export interface RunningRegistry {
  url: string;
  host: string;
  port: number;
  close(): Promise<void>;
}

function splitAddr(addr: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(addr);
  if (!m) throw new SignetError('USAGE', `invalid address ${JSON.stringify(addr)}: want host:port`);
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port: Number(m[3]) };
}

/** Starts the embedded OCI registry (distribution-spec v1.1 with the referrers API). */
export async function startRegistry(options: RegistryOptions): Promise<RunningRegistry> {
  const logger = options.logger ?? silentLogger;
  const storage = new RegistryStorage(options.root);
  const stale = await storage.init();
  if (stale) logger.warn({ removed: stale }, 'removed temp files left by an earlier crash');
  const ctx: RouteContext = { storage, limits: { ...DEFAULT_LIMITS, ...options.limits }, activeUploads: { n: 0 } };
  if (options.authorizer) ctx.authorizer = options.authorizer;

  const server = createServer(
    { requestTimeout: 30 * 60_000, headersTimeout: 60_000, keepAliveTimeout: 30_000 },
    (req, res) => {
      void serve(req, res);
    }
  );
  server.maxRequestsPerSocket = 0;

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = process.hrtime.bigint();
    try {
      const path = (req.url ?? '/').split('?')[0]!;
      if (options.authorizer && req.method === 'GET' && path === options.authorizer.tokenPath) {
        await options.authorizer.handleToken(req, res);
      } else if (path === '/v2' || path.startsWith('/v2/')) {
        await handle(ctx, req, res);
      } else if (req.method === 'GET' && (path === '/index/static' || path === '/index/dynamic')) {
        // Flatpak's index is a listing of repositories: it needs the same right as the catalog.
        if (options.authorizer) {
          const r = await options.authorizer.check(req, [{ type: 'registry', name: 'catalog', actions: ['*'] }]);
          if (!r.ok)
            throw new RegistryError(
              r.code,
              r.message,
              r.status,
              r.challenge ? { 'WWW-Authenticate': r.challenge } : {}
            );
        }
        await flatpakIndex(storage, req, res);
      } else if (req.method === 'GET' && path.startsWith('/lookaside/')) {
        const repo = /^\/lookaside\/(.+)@/.exec(path)?.[1] ?? '';
        if (options.authorizer) {
          const r = await options.authorizer.check(req, [{ type: 'repository', name: repo, actions: ['pull'] }]);
          if (!r.ok)
            throw new RegistryError(
              r.code,
              r.message,
              r.status,
              r.challenge ? { 'WWW-Authenticate': r.challenge } : {}
            );
        }
        await serveLookaside(storage, path, res, req);
      } else if (req.method === 'GET' && (path === '/' || path.startsWith('/ui/'))) {
        await renderWebView(storage, req, res, options.authorizer, options.enforcer);
      } else {
        sendError(res, toRegistryError(new SignetError('NOT_FOUND', 'not found')));
      }
    } catch (err) {
      const e = toRegistryError(err);
      if (e.status >= 500)
        logger.error({ err: (err as Error)?.message, stack: (err as Error)?.stack }, 'request failed');
      // Drain what the client is still sending so the error reaches it on a kept-alive socket.
      if (!req.complete) req.resume();
      sendError(res, e);
    } finally {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      logger.info(
        { method: req.method, path: req.url, status: res.statusCode, ms: Math.round(ms * 10) / 10 },
        'request'
      );
    }
  }

  const { host, port } = splitAddr(options.addr ?? '127.0.0.1:5000');
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  const hostPort = `${host.includes(':') ? `[${host}]` : host}:${actual}`;
  return {
    url: `http://${hostPort}`,
    host: hostPort,
    port: actual,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
