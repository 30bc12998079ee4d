import { Readable } from 'node:stream';
import { Agent, request, type Dispatcher } from 'undici';
import { MAX_MANIFEST_SIZE, OciError, parseDigest, type Descriptor } from '../../oci/index.ts';
import { readAll } from '../content.ts';
import type { ReadableTarget } from '../target.ts';
import { LayoutReader } from './reader.ts';

/**
 * An OCI image layout published on a static web server (Flatpak's "no registry needed" case),
 * read-only. Everything it serves is untrusted: index.json is size-bounded and every blob is
 * verified against its digest while it streams.
 */
export class HttpLayoutTarget extends LayoutReader implements ReadableTarget {
  readonly name: string;
  private readonly base: string;
  private readonly dispatcher = new Agent({ connections: 16, keepAliveTimeout: 10_000 });

  constructor(url: string) {
    super();
    this.base = url.endsWith('/') ? url : `${url}/`;
    this.name = `oci:${url}`;
  }

  private async get(path: string, method: 'GET' | 'HEAD' = 'GET'): Promise<Dispatcher.ResponseData> {
    let url = new URL(path, this.base);
    for (let hops = 0; hops < 5; hops++) {
      let res: Dispatcher.ResponseData;
      try {
        res = await request(url, { method, dispatcher: this.dispatcher });
      } catch (err) {
        throw new OciError('UNAVAILABLE', `${this.name}: ${url.pathname}: ${(err as Error).message}`, { cause: err });
      }
      if ([301, 302, 303, 307, 308].includes(res.statusCode) && res.headers.location) {
        await res.body.dump();
        url = new URL(String(res.headers.location), url);
        continue;
      }
      return res;
    }
    throw new OciError('UNAVAILABLE', `${this.name}: too many redirects`);
  }

  protected async readIndexBytes(): Promise<Buffer> {
    const res = await this.get('index.json');
    if (res.statusCode === 404) {
      await res.body.dump();
      throw new OciError('NOT_FOUND', `${this.name}: no index.json`);
    }
    if (res.statusCode !== 200) {
      await res.body.dump();
      throw new OciError('UNAVAILABLE', `${this.name}: index.json: HTTP ${res.statusCode}`);
    }
    return Buffer.from(await readAll(res.body, MAX_MANIFEST_SIZE));
  }

  protected async openBlob(digest: string): Promise<Readable> {
    const { algorithm, hex } = parseDigest(digest);
    const res = await this.get(`blobs/${algorithm}/${hex}`);
    if (res.statusCode === 404) {
      await res.body.dump();
      throw new OciError('BLOB_UNKNOWN', `${this.name}: ${digest} not found`);
    }
    if (res.statusCode !== 200) {
      await res.body.dump();
      throw new OciError('UNAVAILABLE', `${this.name}: ${digest}: HTTP ${res.statusCode}`);
    }
    return res.body;
  }

  async exists(desc: Descriptor): Promise<boolean> {
    const { algorithm, hex } = parseDigest(desc.digest);
    const res = await this.get(`blobs/${algorithm}/${hex}`, 'HEAD');
    await res.body.dump();
    // Like a directory layout, a blob of another size is not the content asked for.
    if (res.statusCode === 200)
      return res.headers['content-length'] === undefined || Number(res.headers['content-length']) === desc.size;
    if (res.statusCode === 404) return false;
    throw new OciError('UNAVAILABLE', `${this.name}: HEAD ${desc.digest}: HTTP ${res.statusCode}`);
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }
}
