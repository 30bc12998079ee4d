import { Readable } from 'node:stream';
import {
  MANIFEST_ACCEPT,
  MAX_MANIFEST_SIZE,
  MediaType,
  OciError,
  VerifyingStream,
  digestOf,
  encodeManifest,
  isManifestMediaType,
  isValidDigest,
  parseDigest,
  parseManifest,
  referrerDescriptor,
  validateRepositoryName,
  validateTag,
  verifyBytes,
  type Descriptor,
  type ImageIndex,
} from '../../oci/index.ts';
import type { Logger } from '../../util/index.ts';
import { fetchAll, readAll, toStream } from '../content.ts';
import type { CredentialProvider } from '../credentials/index.ts';
import type { FetchOptions, ReadableTarget, TagOptions, Target } from '../target.ts';
import { RegistryClient, headerValue, readLimited } from './client.ts';

export interface RegistryTargetOptions {
  registry: string;
  repository: string;
  plainHttp?: boolean;
  /** HTTPS without verifying the registry's certificate (see `ClientOptions.insecure`). */
  insecure?: boolean;
  credentials?: CredentialProvider;
  /** `auto` (API, falling back to the tag schema), or force one. */
  referrers?: 'auto' | 'api' | 'tag';
  concurrency?: number;
  userAgent?: string;
  logger?: Logger;
  /** Blobs larger than this are uploaded in PATCH chunks of this size. Default 64 MiB. */
  chunkSize?: number;
  /** Share one client (connections, tokens) between repositories of a registry. */
  client?: RegistryClient;
}

/** Pages of a tag listing followed at most (1000 tags each). */
const MAX_TAG_PAGES = 1000;
/** The referrers tag schema tag for a digest: `<alg>-<hex>`, truncated to a valid tag length. */
export function referrersTag(digest: string): string {
  const { algorithm, hex } = parseDigest(digest);
  return `${algorithm}-${hex}`.slice(0, 128);
}

/**
 * The digest of manifest bytes a registry served for `reference`, computed here (never taken
 * from a header): with the reference's algorithm, or the digest header's for a tag. A digest
 * reference, or a header of the same algorithm, that the bytes do not match is DIGEST_MISMATCH.
 */
export function servedManifestDigest(
  name: string,
  reference: string,
  bytes: Uint8Array,
  digestHeader: string | undefined
): string {
  const algorithm = reference.includes(':')
    ? parseDigest(reference).algorithm
    : digestHeader
      ? parseDigest(digestHeader).algorithm
      : 'sha256';
  const digest = digestOf(bytes, algorithm);
  if (reference.includes(':') && digest !== reference) {
    throw new OciError('DIGEST_MISMATCH', `${name}: manifest served for ${reference} has digest ${digest}`);
  }
  if (digestHeader && parseDigest(digestHeader).algorithm === algorithm && digestHeader !== digest) {
    throw new OciError(
      'DIGEST_MISMATCH',
      `${name}: registry says ${reference} is ${digestHeader}, its bytes hash to ${digest}`
    );
  }
  return digest;
}

/** A repository in a registry, reached through the distribution-spec API. */
export class RegistryTarget implements Target {
  readonly name: string;
  readonly writable = true;
  readonly registry: string;
  readonly repository: string;
  readonly client: RegistryClient;
  private referrersState: 'unknown' | 'supported' | 'unsupported';
  private readonly chunkSize: number;
  private readonly ownsClient: boolean;
  private readonly indexLocks = new Map<string, Promise<void>>();

  constructor(options: RegistryTargetOptions) {
    validateRepositoryName(options.repository);
    this.registry = options.registry;
    this.repository = options.repository;
    this.name = `${options.registry}/${options.repository}`;
    this.ownsClient = !options.client;
    this.client = options.client ?? new RegistryClient(options);
    this.referrersState =
      options.referrers === 'api' ? 'supported' : options.referrers === 'tag' ? 'unsupported' : 'unknown';
    this.chunkSize = options.chunkSize ?? 64 * 1024 * 1024;
  }

  private scope(actions = 'pull'): string[] {
    return [`repository:${this.repository}:${actions}`];
  }

  private path(kind: 'manifests' | 'blobs' | 'tags' | 'referrers', ref = ''): string {
    return `/v2/${this.repository}/${kind}/${ref}`;
  }

  async resolve(reference: string, options?: FetchOptions): Promise<Descriptor> {
    void options;
    if (!reference.includes(':')) validateTag(reference);
    const viaHead = await this.headManifest(reference);
    if (viaHead) return viaHead;
    const { bytes, mediaType, digestHeader } = await this.getManifestBytes(reference);
    const digest = servedManifestDigest(this.name, reference, bytes, digestHeader);
    parseManifest(bytes, mediaType);
    return { mediaType, digest, size: bytes.length };
  }

  /**
   * Resolves with HEAD, as notation does: a registry that enforces a policy answers HEAD for
   * what it will not serve yet (a signer must name the digest it signs). The descriptor is the
   * registry's word, as a GET's bytes would be: whatever is fetched by it later is checked
   * against it. Null when HEAD does not say enough (no digest header): then GET decides.
   */
  private async headManifest(reference: string): Promise<Descriptor | null> {
    const res = await this.client.sendBuffered('HEAD', this.path('manifests', reference), {
      scopes: this.scope(),
      headers: { accept: MANIFEST_ACCEPT },
      maxBytes: 0,
    });
    if (res.statusCode === 404) throw new OciError('MANIFEST_UNKNOWN', `${this.name}: manifest ${reference} not found`);
    if (res.statusCode !== 200) return null;
    const digest = headerValue(res.headers['docker-content-digest']);
    const mediaType = (headerValue(res.headers['content-type']) ?? '').split(';')[0]!.trim();
    const size = Number(headerValue(res.headers['content-length']));
    if (!digest || !isValidDigest(digest) || !isManifestMediaType(mediaType)) return null;
    if (!Number.isSafeInteger(size) || size <= 0 || size > MAX_MANIFEST_SIZE) return null;
    if (reference.includes(':') && digest !== reference)
      throw new OciError('DIGEST_MISMATCH', `${this.name}: registry says ${reference} is ${digest}`);
    return { mediaType, digest, size };
  }

  private async getManifestBytes(
    reference: string
  ): Promise<{ bytes: Buffer; mediaType: string; digestHeader: string | undefined }> {
    const res = await this.client.sendBuffered('GET', this.path('manifests', reference), {
      scopes: this.scope(),
      headers: { accept: MANIFEST_ACCEPT },
      maxBytes: MAX_MANIFEST_SIZE,
    });
    if (res.statusCode === 404) throw new OciError('MANIFEST_UNKNOWN', `${this.name}: manifest ${reference} not found`);
    if (res.statusCode !== 200) throw await this.client.errorFrom(res, `GET manifest ${reference}`);
    const bytes = res.body;
    let mediaType = (headerValue(res.headers['content-type']) ?? '').split(';')[0]!.trim();
    if (!isManifestMediaType(mediaType)) {
      // Some registries answer application/json; the document's own mediaType field decides then.
      try {
        mediaType = (JSON.parse(bytes.toString('utf8')) as { mediaType?: string }).mediaType ?? MediaType.ImageManifest;
      } catch {
        throw new OciError('MANIFEST_INVALID', `${this.name}: manifest ${reference} is not JSON`);
      }
    }
    return { bytes, mediaType, digestHeader: headerValue(res.headers['docker-content-digest']) };
  }

  async exists(desc: Descriptor): Promise<boolean> {
    const kind = isManifestMediaType(desc.mediaType) ? 'manifests' : 'blobs';
    const res = await this.client.sendBuffered('HEAD', this.path(kind, desc.digest), {
      scopes: this.scope(),
      headers: kind === 'manifests' ? { accept: MANIFEST_ACCEPT } : {},
      maxBytes: 0,
    });
    if (res.statusCode === 200) return true;
    if (res.statusCode === 404) return false;
    throw await this.client.errorFrom(res, `HEAD ${desc.digest}`);
  }

  async fetch(desc: Descriptor, options?: FetchOptions): Promise<Readable> {
    void options;
    const manifest = isManifestMediaType(desc.mediaType);
    const res = await this.client.send('GET', this.path(manifest ? 'manifests' : 'blobs', desc.digest), {
      scopes: this.scope(),
      headers: manifest ? { accept: MANIFEST_ACCEPT } : {},
    });
    if (res.statusCode === 404) {
      await res.body.dump();
      throw new OciError(manifest ? 'MANIFEST_UNKNOWN' : 'BLOB_UNKNOWN', `${this.name}: ${desc.digest} not found`);
    }
    if (res.statusCode !== 200) throw await this.client.errorFrom(res, `GET ${desc.digest}`);
    const declared = headerValue(res.headers['content-length']);
    if (declared !== undefined && Number(declared) !== desc.size) {
      res.body.destroy();
      throw new OciError(
        'SIZE_INVALID',
        `${this.name}: ${desc.digest} is served with ${declared} bytes, its descriptor says ${desc.size}`
      );
    }
    const verifier = new VerifyingStream(desc);
    res.body.on('error', (err) => verifier.destroy(err));
    return res.body.pipe(verifier);
  }

  /**
   * Reads content whole, checked against its descriptor: no more than `desc.size` bytes are
   * taken, and they must hash to its digest (what fetchAll and fetchManifest read goes this way).
   */
  async fetchBytes(desc: Descriptor): Promise<Uint8Array> {
    const manifest = isManifestMediaType(desc.mediaType);
    const res = await this.client.sendBuffered('GET', this.path(manifest ? 'manifests' : 'blobs', desc.digest), {
      scopes: this.scope(),
      headers: manifest ? { accept: MANIFEST_ACCEPT } : {},
      maxBytes: desc.size,
    });
    if (res.statusCode === 404)
      throw new OciError(manifest ? 'MANIFEST_UNKNOWN' : 'BLOB_UNKNOWN', `${this.name}: ${desc.digest} not found`);
    if (res.statusCode !== 200) throw await this.client.errorFrom(res, `GET ${desc.digest}`);
    verifyBytes(res.body, desc);
    return res.body;
  }

  async push(desc: Descriptor, content: Readable | Uint8Array): Promise<void> {
    if (isManifestMediaType(desc.mediaType))
      return this.pushManifest(
        desc,
        content instanceof Uint8Array ? content : await readAll(content, MAX_MANIFEST_SIZE)
      );
    if (await this.exists(desc)) {
      if (content instanceof Readable) content.destroy();
      return;
    }
    if (desc.size > this.chunkSize && content instanceof Readable) return this.pushChunked(desc, content);
    const start = await this.client.send('POST', `${this.path('blobs')}uploads/`, {
      scopes: this.scope('pull,push'),
      headers: { 'content-length': '0' },
    });
    if (start.statusCode !== 202) throw await this.client.errorFrom(start, 'start upload');
    await start.body.dump();
    const loc = new URL(headerValue(start.headers.location) ?? '', this.client.base);
    loc.searchParams.set('digest', desc.digest);
    const body = content instanceof Uint8Array ? content : new VerifyingPassThrough(content, desc);
    const put = await this.client.send('PUT', loc.href, {
      scopes: this.scope('pull,push'),
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(desc.size) },
      body: body instanceof Uint8Array ? body : body.stream,
    });
    if (put.statusCode !== 201) throw await this.client.errorFrom(put, `upload ${desc.digest}`);
    await put.body.dump();
  }

  /** Chunked upload (POST, PATCH with Content-Range, PUT), for blobs larger than chunkSize. */
  private async pushChunked(desc: Descriptor, content: Readable): Promise<void> {
    const start = await this.client.send('POST', `${this.path('blobs')}uploads/`, {
      scopes: this.scope('pull,push'),
      headers: { 'content-length': '0' },
    });
    if (start.statusCode !== 202) throw await this.client.errorFrom(start, 'start upload');
    await start.body.dump();
    let location = new URL(headerValue(start.headers.location) ?? '', this.client.base).href;
    const minChunk = Number(headerValue(start.headers['oci-chunk-min-length']) ?? 0);
    const chunkSize = Math.max(this.chunkSize, minChunk);
    let offset = 0;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const flush = async (): Promise<void> => {
      if (pendingBytes === 0) return;
      const chunk = Buffer.concat(pending, pendingBytes);
      pending = [];
      pendingBytes = 0;
      const res = await this.client.send('PATCH', location, {
        scopes: this.scope('pull,push'),
        headers: {
          'content-type': 'application/octet-stream',
          'content-range': `${offset}-${offset + chunk.length - 1}`,
          'content-length': String(chunk.length),
        },
        body: chunk,
      });
      if (res.statusCode !== 202) throw await this.client.errorFrom(res, `upload chunk at ${offset}`);
      await res.body.dump();
      location = new URL(headerValue(res.headers.location) ?? location, this.client.base).href;
      offset += chunk.length;
    };
    const verifying = content.pipe(new VerifyingStream(desc));
    content.on('error', (err) => verifying.destroy(err));
    for await (const c of verifying) {
      pending.push(c as Buffer);
      pendingBytes += (c as Buffer).length;
      if (pendingBytes >= chunkSize) await flush();
    }
    await flush();
    const loc = new URL(location);
    loc.searchParams.set('digest', desc.digest);
    const put = await this.client.send('PUT', loc.href, {
      scopes: this.scope('pull,push'),
      headers: { 'content-length': '0' },
    });
    if (put.statusCode !== 201) throw await this.client.errorFrom(put, `complete upload ${desc.digest}`);
    await put.body.dump();
  }

  private async putManifest(
    reference: string,
    mediaType: string,
    bytes: Uint8Array
  ): Promise<{ subjectProcessed: boolean }> {
    const res = await this.client.send('PUT', this.path('manifests', reference), {
      scopes: this.scope('pull,push'),
      headers: { 'content-type': mediaType, 'content-length': String(bytes.length) },
      body: bytes,
    });
    if (res.statusCode !== 201 && res.statusCode !== 200)
      throw await this.client.errorFrom(res, `PUT manifest ${reference}`);
    await res.body.dump();
    return { subjectProcessed: Boolean(res.headers['oci-subject']) };
  }

  private async pushManifest(desc: Descriptor, bytes: Uint8Array): Promise<void> {
    verifyBytes(bytes, desc);
    const manifest = parseManifest(bytes, desc.mediaType);
    const { subjectProcessed } = await this.putManifest(desc.digest, desc.mediaType, bytes);
    if (!manifest.subject) return;
    if (subjectProcessed) {
      if (this.referrersState === 'unknown') this.referrersState = 'supported';
      return;
    }
    // The registry did not take the subject into a referrers API: keep the tag schema index.
    if (this.referrersState === 'supported') return;
    this.referrersState = 'unsupported';
    await this.updateReferrersIndex(manifest.subject, (list) => {
      const entry = referrerDescriptor(desc, manifest);
      return list.some((d) => d.digest === desc.digest) ? null : [...list, entry];
    });
  }

  /** Read-modify-write of the `<alg>-<hex>` index of the referrers tag schema. */
  private updateReferrersIndex(
    subject: Descriptor,
    change: (list: Descriptor[]) => Descriptor[] | null
  ): Promise<void> {
    // Referrers of one subject are often pushed concurrently (copy, sign --recursive): serialise
    // the read-modify-write per subject so no update is lost. (Writers in other processes can
    // still race; the tag schema has no compare-and-swap.)
    const key = subject.digest;
    const prev = this.indexLocks.get(key) ?? Promise.resolve();
    const next = prev.then(() => this.updateReferrersIndexNow(subject, change));
    const settled = next.catch(() => {});
    this.indexLocks.set(key, settled);
    void settled.then(() => {
      if (this.indexLocks.get(key) === settled) this.indexLocks.delete(key);
    });
    return next;
  }

  private async updateReferrersIndexNow(
    subject: Descriptor,
    change: (list: Descriptor[]) => Descriptor[] | null
  ): Promise<void> {
    const tag = referrersTag(subject.digest);
    let current: Descriptor[] = [];
    try {
      const { bytes, mediaType } = await this.getManifestBytes(tag);
      const idx = parseManifest(bytes, mediaType) as ImageIndex;
      current = idx.manifests ?? [];
    } catch (err) {
      if (!(err instanceof OciError && err.kind === 'notfound')) throw err;
    }
    const next = change(current);
    if (!next) return;
    const index: ImageIndex = { schemaVersion: 2, mediaType: MediaType.ImageIndex, manifests: next };
    await this.putManifest(tag, MediaType.ImageIndex, encodeManifest(index));
  }

  /**
   * A tag is a manifest PUT, so it needs the bytes: the caller's (a copy has them from the
   * source; checked against the descriptor), else fetched back — which a registry enforcing a
   * policy refuses for what does not verify yet, hence the first choice.
   */
  async tag(desc: Descriptor, tag: string, options?: TagOptions): Promise<void> {
    validateTag(tag);
    let bytes: Uint8Array;
    if (options?.manifest) {
      verifyBytes(options.manifest, desc);
      bytes = options.manifest;
    } else {
      bytes = await fetchAll(this, desc);
    }
    await this.putManifest(tag, desc.mediaType, bytes);
  }

  async delete(desc: Descriptor): Promise<void> {
    const manifest = isManifestMediaType(desc.mediaType);
    let subject: Descriptor | undefined;
    if (manifest) {
      try {
        const bytes = await fetchAll(this, desc);
        subject = parseManifest(bytes, desc.mediaType).subject;
      } catch {
        subject = undefined;
      }
    }
    const res = await this.client.send('DELETE', this.path(manifest ? 'manifests' : 'blobs', desc.digest), {
      scopes: this.scope('delete'),
    });
    if (res.statusCode === 404) {
      await res.body.dump();
      throw new OciError(manifest ? 'MANIFEST_UNKNOWN' : 'BLOB_UNKNOWN', `${this.name}: ${desc.digest} not found`);
    }
    if (res.statusCode !== 202 && res.statusCode !== 200 && res.statusCode !== 204)
      throw await this.client.errorFrom(res, `DELETE ${desc.digest}`);
    await res.body.dump();
    if (subject && this.referrersState !== 'supported') {
      await this.updateReferrersIndex(subject, (list) =>
        list.some((d) => d.digest === desc.digest) ? list.filter((d) => d.digest !== desc.digest) : null
      );
    }
  }

  async referrers(subject: Descriptor, artifactType?: string): Promise<Descriptor[]> {
    if (this.referrersState !== 'unsupported') {
      const viaApi = await this.referrersApi(subject, artifactType);
      if (viaApi) return viaApi;
    }
    let list: Descriptor[] = [];
    try {
      const { bytes, mediaType } = await this.getManifestBytes(referrersTag(subject.digest));
      list = (parseManifest(bytes, mediaType) as ImageIndex).manifests ?? [];
    } catch (err) {
      if (!(err instanceof OciError && err.kind === 'notfound')) throw err;
    }
    return artifactType === undefined ? list : list.filter((d) => d.artifactType === artifactType);
  }

  /** The referrers API with Link pagination; null when the registry does not have it. */
  private async referrersApi(subject: Descriptor, artifactType?: string): Promise<Descriptor[] | null> {
    const out: Descriptor[] = [];
    let next: string | undefined =
      `${this.path('referrers', subject.digest)}${artifactType ? `?artifactType=${encodeURIComponent(artifactType)}` : ''}`;
    let pages = 0;
    let filtered = false;
    while (next) {
      if (++pages > 100) throw new OciError('SIZE_EXCEEDED', `${this.name}: more than 100 pages of referrers`);
      const res = await this.client.sendBuffered('GET', next, {
        scopes: this.scope(),
        headers: { accept: MediaType.ImageIndex },
        maxBytes: MAX_MANIFEST_SIZE,
      });
      const ct = (headerValue(res.headers['content-type']) ?? '').split(';')[0]!.trim();
      if (res.statusCode !== 200 || (pages === 1 && ct !== MediaType.ImageIndex && ct !== 'application/json')) {
        if (pages === 1 && this.referrersState === 'unknown' && [400, 404, 405, 406, 501].includes(res.statusCode)) {
          this.referrersState = 'unsupported';
          return null;
        }
        if (res.statusCode === 200) throw new OciError('UNSUPPORTED', `${this.name}: referrers answered with ${ct}`);
        throw new OciError('UNAVAILABLE', `${this.name}: referrers API failed with HTTP ${res.statusCode}`);
      }
      this.referrersState = 'supported';
      filtered ||= /artifactType/.test(headerValue(res.headers['oci-filters-applied']) ?? '');
      const idx = parseManifest(res.body, MediaType.ImageIndex) as ImageIndex;
      out.push(...idx.manifests);
      const link = headerValue(res.headers.link);
      const m = link ? /<([^>]+)>\s*;\s*rel="?next"?/.exec(link) : null;
      next = m ? m[1] : undefined;
    }
    // A registry that did not apply the filter leaves it to the client.
    return artifactType !== undefined && !filtered ? out.filter((d) => d.artifactType === artifactType) : out;
  }

  async tags(): Promise<string[]> {
    const out: string[] = [];
    let next: string | undefined = `${this.path('tags', 'list')}?n=1000`;
    // A registry's Link header decides the next page: a page named twice is a loop, and the
    // number of pages is bounded (MAX_TAG_PAGES, 1000 tags each): never an endless listing.
    const seen = new Set<string>();
    while (next) {
      if (seen.has(next))
        throw new OciError('SIZE_EXCEEDED', `${this.name}: the tag list's pages loop (${next} again)`);
      seen.add(next);
      if (seen.size > MAX_TAG_PAGES)
        throw new OciError('SIZE_EXCEEDED', `${this.name}: more than ${MAX_TAG_PAGES} pages of tags`);
      const res = await this.client.send('GET', next, { scopes: this.scope() });
      if (res.statusCode === 404) {
        await res.body.dump();
        return [];
      }
      if (res.statusCode !== 200) throw await this.client.errorFrom(res, 'list tags');
      let j: { tags?: unknown };
      try {
        j = JSON.parse(await readLimited(res.body, 16 * 1024 * 1024)) as { tags?: unknown };
      } catch (err) {
        if (err instanceof OciError) throw err;
        throw new OciError('MANIFEST_INVALID', `${this.name}: the tag list is not JSON: ${(err as Error).message}`);
      }
      const tags = j?.tags ?? [];
      if (!Array.isArray(tags) || tags.some((t) => typeof t !== 'string'))
        throw new OciError('MANIFEST_INVALID', `${this.name}: the tag list's "tags" is not a list of names`);
      out.push(...(tags as string[]));
      const link = headerValue(res.headers.link);
      const m = link ? /<([^>]+)>\s*;\s*rel="?next"?/.exec(link) : null;
      next = m ? m[1] : undefined;
    }
    return out.sort();
  }

  async mount(desc: Descriptor, from: ReadableTarget): Promise<boolean> {
    if (!(from instanceof RegistryTarget) || from.registry !== this.registry || from.repository === this.repository)
      return false;
    const res = await this.client.send(
      'POST',
      `${this.path('blobs')}uploads/?mount=${encodeURIComponent(desc.digest)}&from=${encodeURIComponent(from.repository)}`,
      {
        scopes: [...this.scope('pull,push'), `repository:${from.repository}:pull`],
        headers: { 'content-length': '0' },
      }
    );
    await res.body.dump();
    if (res.statusCode === 201) return true;
    if (res.statusCode === 202) {
      // The registry opened an upload session instead; cancel it and let the caller copy.
      const loc = headerValue(res.headers.location);
      if (loc)
        await this.client
          .send('DELETE', new URL(loc, this.client.base).href, { scopes: this.scope('pull,push') })
          .then((r) => r.body.dump())
          .catch(() => {});
      return false;
    }
    return false;
  }

  async close(): Promise<void> {
    if (this.ownsClient) await this.client.close();
  }
}

/** Wraps a one-shot source stream so its bytes are checked while they are uploaded. */
class VerifyingPassThrough {
  readonly stream: Readable;
  constructor(source: Readable, desc: Descriptor) {
    const v = new VerifyingStream(desc);
    source.on('error', (err) => v.destroy(err));
    this.stream = source.pipe(v);
  }
}

export { toStream };
