import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { join, normalize } from 'node:path';

export interface StaticServer {
  /** Base URL of the served layout directory. */
  url: string;
  /** Requests seen, as "METHOD /path". */
  requests: string[];
  close(): Promise<void>;
}

/**
 * A plain static file server on loopback, which is all a Flatpak-style layout host is. `override`
 * may answer a request itself (to serve wrong bytes or an error status) and return true, return
 * another path to serve that file instead, or return false to serve the file asked for.
 */
export async function serveStatic(
  root: string,
  override?: (path: string, req: IncomingMessage, res: ServerResponse) => boolean | string
): Promise<StaticServer> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    let path = normalize(decodeURIComponent((req.url ?? '/').split('?')[0]!));
    requests.push(`${req.method} ${path}`);
    const answer = override?.(path, req, res) ?? false;
    if (answer === true) return;
    if (typeof answer === 'string') path = answer;
    const file = join(root, path);
    if (!file.startsWith(root)) return void res.writeHead(403).end();
    stat(file).then(
      (st) => {
        if (!st.isFile()) return void res.writeHead(404).end();
        res.writeHead(200, { 'content-length': st.size });
        if (req.method === 'HEAD') return void res.end();
        createReadStream(file).pipe(res);
      },
      () => res.writeHead(404).end()
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
