import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerOptions, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { SignetError, type Logger } from '../util/index.ts';
import { authError } from './access.ts';
import type { Authorizer } from './auth/types.ts';
import type { EnforcerStats } from './enforcement/types.ts';
import { RegistryError, sendError, toRegistryError } from './errors.ts';
import { RegistryMetrics } from './metrics.ts';

export interface RunningRegistry {
  /** `http://host:port` or `https://host:port`. */
  url: string;
  host: string;
  port: number;
  close(): Promise<void>;
}

export interface HttpServerOptions {
  /** `host:port`; port 0 picks a free one. */
  addr: string;
  logger: Logger;
  authorizer?: Authorizer;
  /** Serve HTTPS with this certificate chain and key (PEM). */
  tls?: { cert: Buffer | string; key: Buffer | string };
  /** How long `close()` waits for requests in flight (uploads) before cutting connections. Default 30 s. */
  shutdownGraceMs?: number;
  /** Verdict counters for /metrics. */
  enforcerStats?: () => EnforcerStats | undefined;
  /** Runs in the listening callback, before any request is handled, with the real `host:port`. */
  onListening?: (hostPort: string) => void;
}

/**
 * Answers one request of the application (registry or pull-through). `route(name)` labels it for
 * metrics and logs; returning false means "no such path" (404).
 */
export type Dispatch = (req: IncomingMessage, res: ServerResponse, route: (name: string) => void) => Promise<boolean>;

export function splitAddr(addr: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(addr);
  if (!m) throw new SignetError('USAGE', `invalid address ${JSON.stringify(addr)}: want host:port`);
  const port = Number(m[3]);
  if (port > 65535)
    throw new SignetError('USAGE', `invalid address ${JSON.stringify(addr)}: port ${port} is over 65535`);
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

export function hostPortOf(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/**
 * The HTTP(S) server both `signet serve` modes run on: request ids, structured access logs,
 * Prometheus `/metrics`, the token endpoint, spec error bodies, and a graceful close that lets
 * requests in flight (an upload) finish.
 */
export async function listenHttp(options: HttpServerOptions, dispatch: Dispatch): Promise<RunningRegistry> {
  const { logger, authorizer } = options;
  const { host, port } = splitAddr(options.addr);
  const metrics = new RegistryMetrics();
  const socketCounts = new WeakMap<object, { read: number; written: number }>();
  const serverOptions: ServerOptions = {
    requestTimeout: 30 * 60_000,
    headersTimeout: 60_000,
    keepAliveTimeout: 30_000,
  };
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    void serve(req, res);
  };
  const server: Server = options.tls
    ? createHttpsServer({ ...serverOptions, cert: options.tls.cert, key: options.tls.key }, onRequest)
    : createServer(serverOptions, onRequest);
  server.maxRequestsPerSocket = 0;

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = process.hrtime.bigint();
    const requestId = randomUUID();
    res.setHeader('X-Request-Id', requestId);
    // The socket is detached from the request once it is answered: keep a reference for the counts.
    const socket = req.socket;
    let routeName = 'other';
    // Counted and logged once the answer has left (or the connection died): a kept-alive socket's
    // bytes since the previous request on it are this request's, headers included.
    res.once('close', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const last = socketCounts.get(socket) ?? { read: 0, written: 0 };
      const bytesIn = socket.bytesRead - last.read;
      const bytesOut = socket.bytesWritten - last.written;
      socketCounts.set(socket, { read: socket.bytesRead, written: socket.bytesWritten });
      metrics.record(routeName, req.method ?? 'GET', res.statusCode, bytesIn, bytesOut);
      const verdict = res.getHeader('Signet-Verdict');
      logger.info(
        {
          reqId: requestId,
          method: req.method,
          path: req.url,
          route: routeName,
          status: res.statusCode,
          ms: Math.round(ms * 10) / 10,
          bytesIn,
          bytesOut,
          remote: socket.remoteAddress,
          ...(verdict ? { verdict } : {}),
          ...(res.writableFinished ? {} : { aborted: true }),
        },
        'request'
      );
    });
    const route = (name: string): void => {
      routeName = name;
    };
    try {
      const path = (req.url ?? '/').split('?')[0]!;
      if (authorizer && req.method === 'GET' && path === authorizer.tokenPath) {
        route('token');
        await authorizer.handleToken(req, res);
      } else if (req.method === 'GET' && path === '/metrics') {
        route('metrics');
        // Open without --auth; with it, for users who may pull every repository (as the catalog).
        if (authorizer) {
          const r = await authorizer.check(req, [{ type: 'repository', name: '*', actions: ['pull'] }]);
          if (!r.ok) throw authError(r);
        }
        const body = metrics.render(options.enforcerStats?.());
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
        res.end(body);
      } else if (!(await dispatch(req, res, route))) {
        throw new RegistryError('NOT_FOUND', `no such page: ${path.slice(0, 200)}`, 404);
      }
    } catch (err) {
      const e = toRegistryError(err);
      if (e.status >= 500)
        logger.error(
          { reqId: requestId, err: (err as Error)?.message, stack: (err as Error)?.stack },
          'request failed'
        );
      // Drain what the client is still sending so the error reaches it on a kept-alive socket.
      if (!req.complete) req.resume();
      sendError(res, e);
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new SignetError(
          err.code === 'EADDRINUSE' || err.code === 'EACCES' || err.code === 'EADDRNOTAVAIL' ? 'USAGE' : 'IO',
          `cannot listen on ${options.addr}: ${err.message}`,
          { cause: err }
        )
      )
    );
    server.listen(port, host, () => {
      options.onListening?.(hostPortOf(host, (server.address() as AddressInfo).port));
      resolve();
    });
  });
  const actual = (server.address() as AddressInfo).port;
  const hostPort = hostPortOf(host, actual);
  const grace = options.shutdownGraceMs ?? 30_000;
  return {
    url: `${options.tls ? 'https' : 'http'}://${hostPort}`,
    host: hostPort,
    port: actual,
    // Graceful: stop accepting, let requests in flight (an upload) finish, cut what is left after the grace.
    close: () =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => server.closeAllConnections(), grace);
        timer.unref();
        // A kept-alive connection goes idle only once its last response is finished: keep
        // closing the idle ones until the server is down, so close() does not wait out the grace.
        const idle = setInterval(() => server.closeIdleConnections(), 50);
        idle.unref();
        server.close(() => {
          clearTimeout(timer);
          clearInterval(idle);
          resolve();
        });
        server.closeIdleConnections();
      }),
  };
}
