import { RegistryClient, type ClientOptions } from './client.ts';

/**
 * One registry client per registry (and transport), shared by every repository opened through
 * it: one keep-alive connection pool, one token cache and one request limit per registry for a
 * whole batch, instead of a new client (and new connections) per artifact. Targets opened with a
 * pool leave its clients open; `close()` closes them all. A pool serves one set of open options
 * (credentials, transport): the first client made for a registry is the one every later
 * reference to it shares.
 */
export class RegistryClientPool {
  private readonly clients = new Map<string, RegistryClient>();
  private closed = false;

  /** The client for `options.registry` (with these transport options), made on first use. */
  client(options: ClientOptions): RegistryClient {
    if (this.closed) throw new Error('the registry client pool is closed');
    const key = `${options.registry}\0${String(options.plainHttp)}\0${String(Boolean(options.insecure))}`;
    let c = this.clients.get(key);
    if (!c) {
      c = new RegistryClient(options);
      this.clients.set(key, c);
    }
    return c;
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.clients.values()];
    this.clients.clear();
    await Promise.all(all.map((c) => c.close()));
  }
}
